"""The network probe: links and addresses (``ip -j``), /sys/class/net, InfiniBand ports."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TypedDict

from dcctl.probes.base import Outputs, Step, recogniser, register

SYS_NET = (
    "grep -H . /sys/class/net/*/mtu /sys/class/net/*/operstate /sys/class/net/*/speed "
    "2>/dev/null; true"
)
_IB = "/sys/class/infiniband/*/ports/*"
IB_PORTS = f"grep -H . {_IB}/state {_IB}/rate {_IB}/phys_state {_IB}/link_layer 2>/dev/null; true"


@dataclass
class Interface:
    """One network interface."""

    name: str
    mtu: int | None = None
    operstate: str | None = None
    speed_mbps: int | None = None
    mac: str | None = None
    kind: str | None = None
    addresses: list[str] = field(default_factory=list)
    rx_bytes: int | None = None
    tx_bytes: int | None = None
    rx_errors: int | None = None
    tx_errors: int | None = None
    rx_dropped: int | None = None
    tx_dropped: int | None = None


@dataclass
class IbPort:
    """One InfiniBand (or RoCE) port from /sys/class/infiniband."""

    device: str
    port: int
    state: str | None
    phys_state: str | None
    rate_gbps: float | None
    link_layer: str | None


@dataclass
class NetworkReport:
    """Interfaces and IB ports of a host."""

    interfaces: list[Interface] = field(default_factory=list)
    ib_ports: list[IbPort] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class NetworkProbe:
    """Links, addresses, speeds, MTUs, counters, InfiniBand ports."""

    name: str = "network"
    steps: tuple[Step, ...] = (
        Step("net.link", "ip -j -s link", recogniser(r"^ip -j -s link|^ip -s -j link")),
        Step("net.addr", "ip -j addr", recogniser(r"^ip -j addr")),
        Step("net.sys", SYS_NET, recogniser(r"/sys/class/net")),
        Step("net.ib", IB_PORTS, recogniser(r"/sys/class/infiniband/\*/ports/\*/state")),
    )

    def summarize(self, result: NetworkReport) -> str:
        """One line for folding identical hosts (see :func:`summarize_network`)."""
        return summarize_network(result)

    def parse(self, outputs: Outputs) -> NetworkReport:
        """Merge ``ip`` JSON with /sys (speed) and IB port state."""
        report = NetworkReport()
        by_name: dict[str, Interface] = {}
        link = outputs.get("net.link")
        if link is not None and link.ok:
            for iface in parse_ip_link(link.text):
                by_name[iface.name] = iface
        elif link is not None and link.missing_tool:
            report.notes.append("ip not installed; interfaces from /sys/class/net only")
        addr = outputs.get("net.addr")
        if addr is not None and addr.ok:
            for name, addresses in parse_ip_addr(addr.text).items():
                by_name.setdefault(name, Interface(name)).addresses = addresses
        sys_out = outputs.get("net.sys")
        if sys_out is not None:
            for name, values in parse_sys_net(sys_out.text).items():
                iface = by_name.setdefault(name, Interface(name))
                iface.mtu = iface.mtu if iface.mtu is not None else values["mtu"]
                iface.operstate = iface.operstate or values["oper"]
                iface.speed_mbps = values["speed"]
        ib = outputs.get("net.ib")
        if ib is not None:
            report.ib_ports = parse_ib_ports(ib.text)
        report.interfaces = sorted(by_name.values(), key=lambda i: i.name)
        return report


def _json(output_text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(output_text)
    except json.JSONDecodeError:
        return []
    return data if isinstance(data, list) else []


def parse_ip_link(text: str) -> list[Interface]:
    """Interfaces from ``ip -j -s link``."""
    out = []
    for item in _json(text):
        stats = item.get("stats64") or item.get("stats") or {}
        rx = stats.get("rx", {}) if isinstance(stats, dict) else {}
        tx = stats.get("tx", {}) if isinstance(stats, dict) else {}
        out.append(
            Interface(
                name=str(item.get("ifname")),
                mtu=item.get("mtu"),
                operstate=str(item.get("operstate", "")).lower() or None,
                mac=item.get("address"),
                kind=item.get("link_type"),
                rx_bytes=rx.get("bytes"),
                tx_bytes=tx.get("bytes"),
                rx_errors=rx.get("errors"),
                tx_errors=tx.get("errors"),
                rx_dropped=rx.get("dropped"),
                tx_dropped=tx.get("dropped"),
            )
        )
    return out


def parse_ip_addr(text: str) -> dict[str, list[str]]:
    """``ifname → ["10.0.0.5/24", ...]`` from ``ip -j addr``."""
    out: dict[str, list[str]] = {}
    for item in _json(text):
        infos = item.get("addr_info") or []
        out[str(item.get("ifname"))] = [
            f"{a.get('local')}/{a.get('prefixlen')}" for a in infos if isinstance(a, dict)
        ]
    return out


_SYS_LINE = re.compile(r"^/sys/class/net/(\S+) mtu=(\S*) oper=(\S*) speed=(\S*)")
_SYS_GREP = re.compile(r"^/sys/class/net/([^/]+)/(mtu|operstate|speed):(.*)$")


class SysNet(TypedDict):
    """What /sys/class/net says of one interface."""

    mtu: int | None
    oper: str | None
    speed: int | None


def parse_sys_net(text: str) -> dict[str, SysNet]:
    """Per interface: mtu, operstate, speed (Mb/s; None when the kernel reports none or -1).

    Reads ``grep -H . /sys/class/net/*/{mtu,operstate,speed}`` (what dcctl runs) and the
    ``<path> mtu=… oper=… speed=…`` lines of a hand-made capture.
    """
    out: dict[str, SysNet] = {}
    for line in text.splitlines():
        line = line.strip()
        if m := _SYS_LINE.match(line):
            name, mtu, oper, speed = m.groups()
        elif m := _SYS_GREP.match(line):
            name, attr, value = m.groups()
            entry = out.setdefault(name, SysNet(mtu=None, oper=None, speed=None))
            if attr == "mtu":
                entry["mtu"] = int(value) if value.isdigit() else None
            elif attr == "operstate":
                entry["oper"] = value or None
            else:
                entry["speed"] = _speed(value)
            continue
        else:
            continue
        out[name] = SysNet(
            mtu=int(mtu) if mtu.isdigit() else None, oper=oper or None, speed=_speed(speed)
        )
    return out


def _speed(text: str) -> int | None:
    value = int(text) if text.lstrip("-").isdigit() else None
    return value if value is not None and value > 0 else None


_IB_GREP = re.compile(r"^/sys/class/infiniband/([^/]+)/ports/(\d+)/(\w+):(.*)$")


def parse_ib_ports(text: str) -> list[IbPort]:
    """IB ports from ``grep -H .`` over /sys/class/infiniband/*/ports/*/{state,rate,...}.

    Values look like ``state:4: ACTIVE`` and ``rate:400 Gb/sec (4X NDR)``.
    """
    ports: dict[tuple[str, int], dict[str, str]] = {}
    for line in text.splitlines():
        m = _IB_GREP.match(line.strip())
        if m:
            device, port, attr, value = m.groups()
            ports.setdefault((device, int(port)), {})[attr] = value.strip()
    out = []
    for (device, port), attrs in sorted(ports.items()):
        rate = re.match(r"([\d.]+)", attrs.get("rate", ""))
        out.append(
            IbPort(
                device=device,
                port=port,
                state=attrs.get("state", "").split(":", 1)[-1].strip() or None,
                phys_state=attrs.get("phys_state", "").split(":", 1)[-1].strip() or None,
                rate_gbps=float(rate.group(1)) if rate else None,
                link_layer=attrs.get("link_layer") or None,
            )
        )
    return out


def summarize_network(r: NetworkReport) -> str:
    """Links that have a speed (physical), with speed and MTU; IB ports by state and rate."""
    links = Counter(
        f"{i.speed_mbps / 1000:g}G mtu {i.mtu} {i.operstate or '?'}"
        for i in r.interfaces
        if i.speed_mbps
    )
    parts = [f"{n}× {k}" for k, n in sorted(links.items())] or [
        f"{len([i for i in r.interfaces if i.name != 'lo'])} interfaces, no link speeds"
    ]
    if r.ib_ports:
        ib = Counter(f"{p.rate_gbps:g}G {p.state}" for p in r.ib_ports)
        parts.append("IB " + ", ".join(f"{n}× {k}" for k, n in sorted(ib.items())))
    return "; ".join(parts)


register(NetworkProbe(), order=20)
