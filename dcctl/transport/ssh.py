"""The SSH transport (paramiko), with OpenSSH's host-key rules and ``~/.ssh/config`` underneath.

One :class:`SshContext` per run holds what every connection shares: known_hosts (read once),
the parsed ssh config, private keys and agent keys (loaded once), and one transport per
bastion (ProxyJump) carrying the channels of every host behind it.
"""

from __future__ import annotations

import getpass
import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from dcctl.model.command import Command, CommandResult
from dcctl.transport.base import AuthError, UnreachableError, register_transport, timeout_wrapped
from dcctl.transport.hostkeys import KnownHosts
from dcctl.transport.stream import ChannelStream
from dcctl.transport.target import Target

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_IDENTITIES = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


class _Transport(paramiko.Transport):
    """paramiko's Transport, waking less often when idle.

    Its reader thread polls its socket every 0.1 s to notice a close; with hundreds of hosts
    waiting on slow commands those wake-ups cost more controller CPU than the SSH work itself.
    Closing stays immediate: ``close()`` closes the socket and does not wait for the thread.
    """

    _active_check_timeout = 1.0
    # AES-GCM first: its tag is checked inside OpenSSL, where the CTR ciphers' HMAC is compared
    # byte by byte in Python. The other ciphers stay available for older servers.
    _preferred_ciphers = (
        "aes128-gcm@openssh.com",
        "aes256-gcm@openssh.com",
        # (a private attribute of paramiko's, absent from its stubs)
        *(c for c in paramiko.Transport._preferred_ciphers if "gcm" not in c),  # type: ignore[attr-defined]
    )


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect, after the inventory and ~/.ssh/config are combined."""

    hostname: str
    port: int
    user: str
    identities: tuple[str, ...]
    proxy_jump: str | None
    connect_timeout: float
    host_key_policy: str


@dataclass
class SshContext:
    """What all SSH connections of one run share."""

    known_hosts: KnownHosts = field(default_factory=KnownHosts)
    config_path: Path | None = None
    use_agent: bool = True
    default_connect_timeout: float = DEFAULT_CONNECT_TIMEOUT

    def __post_init__(self) -> None:
        """Load ~/.ssh/config once."""
        path = self.config_path or Path(os.path.expanduser("~/.ssh/config"))
        self.config = paramiko.SSHConfig.from_path(str(path)) if path.is_file() else None
        self._keys: dict[str, paramiko.PKey | None] = {}
        self._agent_keys: list[paramiko.PKey] | None = None
        self._lock = threading.Lock()
        self._jumps: dict[tuple[str, int, str], paramiko.Transport] = {}
        self._jump_locks: dict[tuple[str, int, str], threading.Lock] = {}

    # -- settings --------------------------------------------------------------------------

    def endpoint(self, target: Target) -> Endpoint:
        """The target's own settings over ~/.ssh/config over defaults (as ``ssh -o`` would)."""
        cfg = self.config.lookup(target.name) if self.config else {}
        ssh = target.ssh
        hostname = (
            target.address if target.address_is_explicit else cfg.get("hostname", target.address)
        )
        identities = (
            (ssh.identity_file,) if ssh.identity_file else tuple(cfg.get("identityfile", ()))
        )
        jump = ssh.proxy_jump or cfg.get("proxyjump")
        timeout = ssh.connect_timeout or _float(cfg.get("connecttimeout"))
        return Endpoint(
            hostname=hostname,
            port=int(ssh.port or cfg.get("port") or 22),
            user=ssh.user or cfg.get("user") or getpass.getuser(),
            identities=identities,
            proxy_jump=None if jump in (None, "none") else jump,
            connect_timeout=timeout or self.default_connect_timeout,
            host_key_policy=ssh.host_key_policy,
        )

    # -- credentials -----------------------------------------------------------------------

    def key(self, path: str) -> paramiko.PKey | None:
        """A private key loaded once (None if missing, encrypted or unreadable)."""
        full = os.path.expanduser(path)
        with self._lock:
            if full not in self._keys:
                try:
                    self._keys[full] = paramiko.PKey.from_path(full)
                except (OSError, paramiko.SSHException, ValueError):
                    self._keys[full] = None
            return self._keys[full]

    def credentials(self, endpoint: Endpoint) -> list[paramiko.PKey]:
        """Keys to offer, in order: configured identities, agent keys, default key files."""
        keys = [k for k in (self.key(p) for p in endpoint.identities) if k is not None]
        if self.use_agent:
            with self._lock:
                if self._agent_keys is None:
                    try:
                        self._agent_keys = list(paramiko.Agent().get_keys())
                    except (paramiko.SSHException, OSError):
                        self._agent_keys = []
            keys += self._agent_keys
        if not endpoint.identities:
            keys += [k for k in (self.key(p) for p in DEFAULT_IDENTITIES) if k is not None]
        return keys

    # -- connections -----------------------------------------------------------------------

    def open_transport(
        self, endpoint: Endpoint, sock: socket.socket | paramiko.Channel
    ) -> paramiko.Transport:
        """Key exchange, host-key check and authentication on an open socket or channel."""
        transport = _Transport(sock)
        transport.banner_timeout = endpoint.connect_timeout
        transport.auth_timeout = endpoint.connect_timeout
        known = self.known_hosts.known_types(endpoint.hostname, endpoint.port)
        if known:
            options = transport.get_security_options()
            preferred = [k for k in options.key_types if k in known]
            options.key_types = preferred + [k for k in options.key_types if k not in known]
        # With an event, start_client returns at once; without one it would return silently
        # on timeout with no session, so we wait on the event ourselves.
        negotiated = threading.Event()
        where = f"{endpoint.hostname}:{endpoint.port}"
        try:
            transport.start_client(event=negotiated)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            transport.close()
            raise UnreachableError(
                f"{where}: no SSH session ({exc or type(exc).__name__})"
            ) from None
        if not negotiated.wait(endpoint.connect_timeout) or not transport.is_active():
            failure = transport.get_exception()
            transport.close()
            why = (
                str(failure)
                if failure
                else f"no key exchange within {endpoint.connect_timeout:g} s"
            )
            raise UnreachableError(f"{where}: no SSH session ({why})")
        try:
            self.known_hosts.check(
                endpoint.hostname,
                endpoint.port,
                transport.get_remote_server_key(),
                endpoint.host_key_policy,
            )
            self._authenticate(transport, endpoint)
        except BaseException:
            transport.close()
            raise
        return transport

    def _authenticate(self, transport: paramiko.Transport, endpoint: Endpoint) -> None:
        keys = self.credentials(endpoint)
        if not keys:
            raise AuthError(f"no private key to offer {endpoint.user}@{endpoint.hostname}")
        for key in keys:
            try:
                transport.auth_publickey(endpoint.user, key)
            except paramiko.BadAuthenticationType as exc:
                raise AuthError(
                    f"{endpoint.user}@{endpoint.hostname} does not accept public keys "
                    f"(allowed: {', '.join(exc.allowed_types)})"
                ) from None
            except paramiko.AuthenticationException:
                continue
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise AuthError(f"{endpoint.hostname}: authentication failed: {exc}") from None
            if transport.is_authenticated():
                return
        raise AuthError(f"{endpoint.user}@{endpoint.hostname} refused all {len(keys)} keys offered")

    def socket_to(self, endpoint: Endpoint) -> socket.socket | paramiko.Channel:
        """A TCP connection to the endpoint, directly or through its ProxyJump chain."""
        if endpoint.proxy_jump is None:
            try:
                return socket.create_connection(
                    (endpoint.hostname, endpoint.port), timeout=endpoint.connect_timeout
                )
            except TimeoutError:
                raise UnreachableError(
                    f"{endpoint.hostname}:{endpoint.port}: connect timed out after "
                    f"{endpoint.connect_timeout:g} s"
                ) from None
            except OSError as exc:
                raise UnreachableError(
                    f"{endpoint.hostname}:{endpoint.port}: {exc.strerror or exc}"
                ) from None
        jump = self.jump_transport(endpoint.proxy_jump, endpoint)
        try:
            return jump.open_channel(
                "direct-tcpip",
                (endpoint.hostname, endpoint.port),
                ("127.0.0.1", 0),
                timeout=endpoint.connect_timeout,
            )
        except (paramiko.SSHException, OSError) as exc:
            raise UnreachableError(
                f"{endpoint.hostname}:{endpoint.port} via {endpoint.proxy_jump}: {exc}"
            ) from None

    def jump_transport(self, spec: str, target: Endpoint) -> paramiko.Transport:
        """The shared transport to a bastion (the last hop of ``spec``), opened once."""
        hops = [h.strip() for h in spec.split(",") if h.strip()]
        last = _parse_hop(hops[-1], target)
        via = ",".join(hops[:-1]) or None
        key = (last.hostname, last.port, last.user)
        with self._lock:
            lock = self._jump_locks.setdefault(key, threading.Lock())
        with lock:
            existing = self._jumps.get(key)
            if existing is not None and existing.is_active():
                return existing
            endpoint = Endpoint(
                last.hostname, last.port, last.user, target.identities, via,
                target.connect_timeout, target.host_key_policy,
            )  # fmt: skip
            transport = self.open_transport(endpoint, self.socket_to(endpoint))
            self._jumps[key] = transport
            return transport

    def close(self) -> None:
        """Close the bastion transports."""
        for transport in self._jumps.values():
            transport.close()
        self._jumps.clear()


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _parse_hop(hop: str, target: Endpoint) -> Endpoint:
    user, _, rest = hop.rpartition("@")
    hostname, port = rest, 22
    if rest.startswith("["):
        hostname, _, tail = rest[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") else 22
    elif rest.count(":") == 1:
        hostname, port_s = rest.split(":")
        port = int(port_s)
    return Endpoint(hostname, port, user or target.user, target.identities, None,
                    target.connect_timeout, target.host_key_policy)  # fmt: skip


class SshTransport:
    """One host over SSH."""

    def __init__(self, name: str, endpoint: Endpoint, context: SshContext) -> None:
        """Prepare (nothing is opened until connect); ``name`` is how messages call the host."""
        self.host = name
        self.context = context
        self.endpoint = endpoint
        self._transport: paramiko.Transport | None = None

    def connect(self) -> None:
        """Open the session: TCP (or ProxyJump channel), key exchange, host key, auth."""
        if self._transport is not None and self._transport.is_active():
            return
        sock = self.context.socket_to(self.endpoint)
        self._transport = self.context.open_transport(self.endpoint, sock)

    def run(self, command: Command, *, timeout: float | None = None) -> CommandResult:
        """Run on the host under ``timeout -k``; stop waiting shortly after the limit."""
        self.connect()
        assert self._transport is not None
        start = time.monotonic()
        try:
            channel = self._transport.open_session(timeout=self.endpoint.connect_timeout)
            channel.exec_command(timeout_wrapped(command, timeout))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            why = str(exc) or (
                "the SSH session was closed by the host"
                if isinstance(exc, EOFError) or not self._transport.is_active()
                else type(exc).__name__
            )
            raise UnreachableError(f"{self.host}: could not start a command: {why}") from None
        deadline = None if timeout is None else start + timeout + 5.0
        out, err = bytearray(), bytearray()
        timed_out = False
        rc: int | None = None
        try:
            # The channel's fileno becomes readable on stdout or stderr data and at EOF, so this
            # sleeps until there is something to do (no polling).
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    timed_out = True
                    break
                select.select([channel], [], [], left)
                while channel.recv_ready():
                    out += channel.recv(65536)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                if (channel.eof_received or channel.closed) and not channel.recv_ready():
                    break
            if not timed_out:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                if channel.status_event.wait(left):
                    rc = channel.recv_exit_status()
                else:
                    timed_out = True
        finally:
            channel.close()
        if rc in (124, 137) and timeout is not None:
            timed_out = True
        return CommandResult(
            None if timed_out else rc,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            time.monotonic() - start,
            timed_out=timed_out,
        )

    def stream(self, command: Command) -> ChannelStream:
        """Start a long-running command; its stdout is read as lines arrive (one channel)."""
        self.connect()
        assert self._transport is not None
        try:
            channel = self._transport.open_session(timeout=self.endpoint.connect_timeout)
            channel.exec_command(command.shell())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            why = str(exc) or type(exc).__name__
            raise UnreachableError(f"{self.host}: could not start a command: {why}") from None
        return ChannelStream(channel)

    def put(self, local: Path, remote: str) -> None:
        """Copy a file to the host over SFTP."""
        self.connect()
        assert self._transport is not None
        with paramiko.SFTPClient.from_transport(self._transport) as sftp:  # type: ignore[union-attr]
            sftp.put(str(local), remote)

    def get(self, remote: str, local: Path) -> None:
        """Copy a file from the host over SFTP."""
        self.connect()
        assert self._transport is not None
        with paramiko.SFTPClient.from_transport(self._transport) as sftp:  # type: ignore[union-attr]
            sftp.get(remote, str(local))

    def close(self) -> None:
        """Close the session."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None


register_transport(
    "ssh", lambda target, context: SshTransport(target.name, context.endpoint(target), context)
)
