"""Where a transport connects: a host's name, address and SSH settings, without the inventory.

The inventory resolves these values (``Host.target``); transports only ever see a
:class:`Target`, so they stay below the inventory and can be used without one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

HostKeyPolicy = Literal["strict", "accept-new"]
HOST_KEY_POLICIES: tuple[str, ...] = ("strict", "accept-new")


@dataclass(frozen=True, slots=True)
class SshSettings:
    """How to reach a host over SSH; unset fields fall back to ``~/.ssh/config``."""

    user: str | None = None
    port: int | None = None
    identity_file: str | None = None
    proxy_jump: str | None = None
    host_key_policy: HostKeyPolicy = "strict"
    connect_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """One host as a transport needs it.

    ``address_is_explicit`` says the address was written down (in the inventory); otherwise
    ``~/.ssh/config``'s ``HostName`` for the name may replace it, as ``ssh NAME`` would.
    """

    name: str
    address: str
    ssh: SshSettings = field(default_factory=SshSettings)
    address_is_explicit: bool = False
