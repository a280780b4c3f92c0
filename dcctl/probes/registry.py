"""The probes dcctl knows, by name.

Each probe module declares itself with :func:`dcctl.probes.base.register`; adding a probe is its
module plus its name on the import line below.
"""

from __future__ import annotations

from collections.abc import Iterable

from dcctl.errors import InputError
from dcctl.probes import gpu, network, nvlink, security, storage, system  # noqa: F401  (register)
from dcctl.probes.base import Probe, registered
from dcctl.source.diagnostics import did_you_mean

#: The built-in probes (those registered by the modules imported above), in their order.
PROBES: dict[str, Probe] = dict(registered())


def select_probes(names: Iterable[str] | None) -> list[Probe]:
    """Probes by name (all when None); an unknown name is an InputError with a suggestion."""
    probes = registered()
    if names is None:
        return list(probes.values())
    chosen = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name not in probes:
            known = ", ".join(probes)
            raise InputError(
                f"unknown probe '{name}'{did_you_mean(name, probes)} (probes: {known})"
            )
        if probes[name] not in chosen:
            chosen.append(probes[name])
    if not chosen:
        raise InputError("no probe selected")
    return chosen
