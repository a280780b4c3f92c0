"""The network probe: links and addresses (``ip -j``), /sys/class/net, InfiniBand ports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dcctl.probes.base import Outputs, Step, recogniser

SYS_NET = (
    'for d in /sys/class/net/*; do echo "$d mtu=$(cat $d/mtu) oper=$(cat $d/operstate) '
    'speed=$(cat $d/speed 2>/dev/null)"; done; ls /sys/class/infiniband 2>&1'
)
IB_PORTS = (
    'for p in /sys/class/infiniband/*/ports/*; do [ -d "$p" ] && echo "$p '
    "state=$(cat $p/state) rate=$(cat $p/rate) phys=$(cat $p/phys_state) "
    'layer=$(cat $p/link_layer)"; done; true'
)


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

    name = "network"
    steps = (
        Step("net.link", "ip -j -s link", recogniser(r"^ip -j -s link|^ip -s -j link")),
        Step("net.addr", "ip -j addr", recogniser(r"^ip -j addr")),
        Step("net.sys", SYS_NET, recogniser(r"/sys/class/net")),
        Step("net.ib", IB_PORTS, recogniser(r"/sys/class/infiniband/\*/ports")),
    )

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
                iface.mtu = iface.mtu if iface.mtu is not None else values.get("mtu")
                iface.operstate = iface.operstate or values.get("oper")
                iface.speed_mbps = values.get("speed")
        ib = outputs.get("net.ib")
        if ib is not None:
            report.ib_ports = parse_ib_ports(ib.text)
        report.interfaces = sorted(by_name.values(), key=lambda i: i.name)
        return report


def _json(output_text: str) -> list[dict[str, object]]:
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
                mtu=item.get("mtu"),  # type: ignore[arg-type]
                operstate=str(item.get("operstate", "")).lower() or None,
                mac=item.get("address"),  # type: ignore[arg-type]
                kind=item.get("link_type"),  # type: ignore[arg-type]
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


def parse_sys_net(text: str) -> dict[str, dict[str, object]]:
    """Per interface: mtu, operstate, speed (Mb/s; None when the kernel reports none or -1)."""
    out: dict[str, dict[str, object]] = {}
    for line in text.splitlines():
        m = _SYS_LINE.match(line.strip())
        if not m:
            continue
        name, mtu, oper, speed = m.groups()
        speed_value = int(speed) if speed.lstrip("-").isdigit() else None
        out[name] = {
            "mtu": int(mtu) if mtu.isdigit() else None,
            "oper": oper or None,
            "speed": speed_value if speed_value is not None and speed_value > 0 else None,
        }
    return out


_IB_LINE = re.compile(
    r"^/sys/class/infiniband/(\S+)/ports/(\d+) state=(.*?) rate=(.*?) phys=(.*?) layer=(.*)$"
)


def parse_ib_ports(text: str) -> list[IbPort]:
    """IB ports from the /sys/class/infiniband lines (``state=4: ACTIVE rate=400 Gb/sec ...``)."""
    ports = []
    for line in text.splitlines():
        m = _IB_LINE.match(line.strip())
        if not m:
            continue
        device, port, state, rate, phys, layer = m.groups()
        rate_m = re.match(r"([\d.]+)", rate.strip())
        ports.append(
            IbPort(
                device=device,
                port=int(port),
                state=state.split(":", 1)[-1].strip() or None,
                phys_state=phys.split(":", 1)[-1].strip() or None,
                rate_gbps=float(rate_m.group(1)) if rate_m else None,
                link_layer=layer.strip() or None,
            )
        )
    return ports
