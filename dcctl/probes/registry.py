"""The probes dcctl knows, by name.

Each probe module declares itself with :func:`dcctl.probes.base.register`; adding a probe is its
module plus its name on the import line below.
"""

from __future__ import annotations

from collections.abc import Iterable

from dcctl.errors import InputError
from dcctl.probes import gpu, network, security, storage, system  # noqa: F401  (they register)
from dcctl.probes.base import Probe, registered
from dcctl.source.diagnostics import did_you_mean

PROBES: dict[str, Probe] = registered()


def select_probes(names: Iterable[str] | None) -> list[Probe]:
    """Probes by name (all when None); an unknown name is an InputError with a suggestion."""
    if names is None:
        return list(PROBES.values())
    chosen = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name not in PROBES:
            known = ", ".join(PROBES)
            raise InputError(
                f"unknown probe '{name}'{did_you_mean(name, PROBES)} (probes: {known})"
            )
        if PROBES[name] not in chosen:
            chosen.append(PROBES[name])
    if not chosen:
        raise InputError("no probe selected")
    return chosen
