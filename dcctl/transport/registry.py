"""Transports by name: each transport module registers its factory once.

A factory turns a :class:`~dcctl.transport.target.Target` and the run's shared
:class:`~dcctl.transport.ssh.SshContext` into a :class:`~dcctl.transport.base.Transport`.
Adding a transport is its module plus its name on the import line below. An unknown name is an
error, never a fallback to SSH.
"""

from __future__ import annotations

from dcctl.errors import InputError
from dcctl.source.diagnostics import did_you_mean
from dcctl.transport import fake, local, ssh  # noqa: F401  (each registers itself)
from dcctl.transport.base import Transport, TransportFactory, registered_factories
from dcctl.transport.ssh import SshContext
from dcctl.transport.target import Target

TRANSPORT_FACTORIES: dict[str, TransportFactory] = registered_factories()


def transport_names() -> tuple[str, ...]:
    """The names a host may ask for (``transport:`` in the inventory)."""
    return tuple(TRANSPORT_FACTORIES)


def make_transport(kind: str, target: Target, context: SshContext) -> Transport:
    """A new, unconnected transport of ``kind`` to ``target``.

    Raises :class:`InputError` naming the known transports when ``kind`` is unknown.
    """
    factory = TRANSPORT_FACTORIES.get(kind)
    if factory is None:
        known = ", ".join(TRANSPORT_FACTORIES)
        raise InputError(
            f"unknown transport '{kind}'{did_you_mean(kind, TRANSPORT_FACTORIES)} "
            f"(transports: {known})"
        )
    return factory(target, context)
