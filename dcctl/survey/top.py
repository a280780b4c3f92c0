"""``dcctl top``: the fleet's GPUs live, and the power tree's draw against its budgets.

Live mode keeps one SSH connection per host and one long-running query on it
(``nvidia-smi --query-gpu=… --format=csv,noheader,nounits -lms N``), read as lines arrive: a
refresh opens no channel and starts no process on the host. The top process per GPU comes from
``--query-compute-apps`` on the same connection, every 10 samples. A host that stops
answering keeps its last sample, marked with why; it is reconnected with backoff (1, 2, 4 … 30 s).
``--once`` reads every host once (a short command each) for scripts and cron.
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dcctl.inventory.model import Inventory
from dcctl.model.command import Command
from dcctl.probes.gpu_model import THROTTLE_REASONS, decode_clock_events
from dcctl.transport.base import Transport
from dcctl.transport.fanout import classify, fan_out
from dcctl.transport.registry import make_transport
from dcctl.transport.ssh import SshContext

FIELDS = (
    "index", "uuid", "name", "utilization.gpu", "memory.used", "memory.total", "power.draw",
    "enforced.power.limit", "temperature.gpu", "clocks.sm", "clocks.max.sm",
    "clocks_event_reasons.active",
)  # fmt: skip
APP_FIELDS = ("gpu_uuid", "pid", "process_name", "used_memory")
#: Seconds between reconnects grow up to this.
MAX_BACKOFF_S = 30.0


def query_command(interval_ms: int | None = None) -> Command:
    """The GPU query, looping every ``interval_ms`` when given (one process for the session)."""
    argv = ["nvidia-smi", f"--query-gpu={','.join(FIELDS)}", "--format=csv,noheader,nounits"]
    return Command.of([*argv, "-lms", str(interval_ms)] if interval_ms else argv)


APPS_COMMAND = Command.of(["nvidia-smi", f"--query-compute-apps={','.join(APP_FIELDS)}",
                           "--format=csv,noheader,nounits"])  # fmt: skip


@dataclass(frozen=True)
class GpuLive:
    """One GPU now."""

    index: int
    uuid: str
    name: str
    util: float | None
    mem_used: float | None
    mem_total: float | None
    power: float | None
    limit: float | None
    temp: float | None
    sm_clock: float | None
    max_sm_clock: float | None
    held_back: tuple[str, ...] = ()  # clock event reasons that slow it (thermal, power brake…)
    process: str | None = None  # the process using most of its memory

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"index": self.index, "uuid": self.uuid, "name": self.name, "util": self.util,
                "mem_used_mib": self.mem_used, "mem_total_mib": self.mem_total,
                "power_w": self.power, "power_limit_w": self.limit, "temp_c": self.temp,
                "sm_clock_mhz": self.sm_clock, "max_sm_clock_mhz": self.max_sm_clock,
                "held_back": list(self.held_back), "process": self.process}  # fmt: skip


@dataclass
class HostLive:
    """One host now: its GPUs, or why they are not known."""

    host: str
    gpus: list[GpuLive] = field(default_factory=list)
    status: str = "connecting"  # ok | connecting | unreachable | no_gpu | failed | stale
    error: str | None = None
    updated: float | None = None  # monotonic time of the last full sample

    def total(self, attr: str) -> float | None:
        """Sum of one GPU figure (None when no GPU reported it)."""
        values = [getattr(g, attr) for g in self.gpus if getattr(g, attr) is not None]
        return sum(values) if values else None

    @property
    def util(self) -> float | None:
        """Mean utilisation of its GPUs."""
        values = [g.util for g in self.gpus if g.util is not None]
        return sum(values) / len(values) if values else None

    @property
    def temp(self) -> float | None:
        """The hottest GPU."""
        values = [g.temp for g in self.gpus if g.temp is not None]
        return max(values) if values else None

    @property
    def held_back(self) -> tuple[str, ...]:
        """Clock event reasons seen on any GPU."""
        return tuple(sorted({r for g in self.gpus for r in g.held_back}))

    @property
    def process(self) -> str | None:
        """The first GPU's top process (or another GPU's)."""
        return next((g.process for g in self.gpus if g.process), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a ``dcctl.top.host/1`` record)."""
        return {"host": self.host, "status": self.status, "error": self.error,
                "util": _round(self.util), "mem_used_mib": self.total("mem_used"),
                "mem_total_mib": self.total("mem_total"), "power_w": _round(self.total("power")),
                "power_limit_w": _round(self.total("limit")), "temp_c": self.temp,
                "held_back": list(self.held_back), "process": self.process,
                "gpus": [g.to_dict() for g in self.gpus]}  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _num(text: str) -> float | None:
    text = text.strip()
    if not text or text.startswith("[") or text in ("N/A", "Not Supported"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_gpu_line(line: str) -> GpuLive | None:
    """One CSV row of :data:`FIELDS` (None for a line that is not one: a banner, an error)."""
    row = next(csv.reader([line], skipinitialspace=True), [])
    if len(row) != len(FIELDS):
        return None
    values = dict(zip(FIELDS, (c.strip() for c in row), strict=True))
    index = _num(values["index"])
    if index is None:
        return None
    mask_text = values["clocks_event_reasons.active"]
    try:
        mask = int(mask_text, 16) if mask_text.startswith("0x") else 0
    except ValueError:
        mask = 0
    held = tuple(
        r for r in decode_clock_events(mask) if r in THROTTLE_REASONS or r == "sw_power_cap"
    )
    return GpuLive(int(index), values["uuid"], values["name"], _num(values["utilization.gpu"]),
                   _num(values["memory.used"]), _num(values["memory.total"]),
                   _num(values["power.draw"]), _num(values["enforced.power.limit"]),
                   _num(values["temperature.gpu"]), _num(values["clocks.sm"]),
                   _num(values["clocks.max.sm"]), held)  # fmt: skip


def parse_apps(text: str) -> dict[str, str]:
    """GPU uuid → the process using the most memory on it (``name (pid)``)."""
    best: dict[str, tuple[float, str]] = {}
    for row in csv.reader(text.splitlines(), skipinitialspace=True):
        if len(row) != len(APP_FIELDS):
            continue
        uuid, pid, name, used = (c.strip() for c in row)
        memory = _num(used) or 0.0
        label = f"{name.rsplit('/', 1)[-1]} ({pid})"
        if uuid not in best or memory > best[uuid][0]:
            best[uuid] = (memory, label)
    return {uuid: label for uuid, (_, label) in best.items()}


def with_processes(gpus: Sequence[GpuLive], apps: dict[str, str]) -> list[GpuLive]:
    """The GPUs with their top process filled in."""
    return [replace(g, process=apps.get(g.uuid)) for g in gpus]


class Batcher:
    """Groups a looping query's rows into samples: a sample ends when an index repeats."""

    def __init__(self) -> None:
        self.current: dict[int, GpuLive] = {}

    def feed(self, lines: Iterable[str]) -> list[list[GpuLive]]:
        """Complete samples among ``lines`` (the last, maybe partial, one is kept)."""
        done = []
        for line in lines:
            gpu = parse_gpu_line(line)
            if gpu is None:
                continue
            if gpu.index in self.current:
                done.append(sorted(self.current.values(), key=lambda g: g.index))
                self.current = {}
            self.current[gpu.index] = gpu
        return done


# -- once ------------------------------------------------------------------------------------


def snapshot(
    inventory: Inventory,
    hosts: Sequence[str],
    *,
    forks: int = 64,
    timeout: float = 10.0,
    processes: bool = True,
    context: SshContext | None = None,
) -> list[HostLive]:
    """Every host read once: its GPUs (and top processes), or why not."""
    context = context or SshContext()

    def work(name: str) -> HostLive:
        host = inventory.hosts[name]
        transport = make_transport(host.transport, host.target, context)
        try:
            transport.connect()
            return _read_once(transport, name, timeout, processes)
        finally:
            transport.close()

    try:
        outcomes = fan_out(hosts, work, forks=forks)
    finally:
        context.close()
    return [
        o.value if o.value is not None else HostLive(o.host, status=o.status.value, error=o.error)
        for o in outcomes
    ]


def _read_once(transport: Transport, name: str, timeout: float, processes: bool) -> HostLive:
    run = transport.run(query_command(), timeout=timeout)
    if run.rc is None:
        return HostLive(name, status="timed_out", error=f"nvidia-smi timed out after {timeout:g} s")
    if run.rc == 127:
        return HostLive(name, status="no_gpu", error="nvidia-smi not found")
    gpus = [g for g in (parse_gpu_line(x) for x in run.stdout.splitlines()) if g is not None]
    if run.rc != 0 or not gpus:
        first = (run.stdout + run.stderr).strip().splitlines()
        return HostLive(name, status="failed", error=first[0] if first else f"rc={run.rc}")
    if processes:
        apps = transport.run(APPS_COMMAND, timeout=timeout)
        if apps.rc == 0:
            gpus = with_processes(gpus, parse_apps(apps.stdout))
    return HostLive(name, gpus, "ok", updated=time.monotonic())


# -- live ------------------------------------------------------------------------------------


class LiveFleet:
    """One reader thread per host keeping its latest sample (see the module docstring)."""

    def __init__(
        self,
        inventory: Inventory,
        hosts: Sequence[str],
        interval_s: float = 2.0,
        *,
        processes_every: int = 10,
        context: SshContext | None = None,
        transport_for: Callable[[str], Transport] | None = None,
    ) -> None:
        """Watch ``hosts``, sampling every ``interval_s``."""
        self.inventory = inventory
        self.hosts = list(hosts)
        self.interval_s = interval_s
        self.processes_every = processes_every
        self.context = context or SshContext()
        self.transport_for = transport_for or self._transport
        self.state = {h: HostLive(h) for h in self.hosts}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _transport(self, name: str) -> Transport:
        host = self.inventory.hosts[name]
        return make_transport(host.transport, host.target, self.context)

    def start(self) -> LiveFleet:
        """Start a reader per host."""
        for name in self.hosts:
            thread = threading.Thread(target=self._watch, args=(name,), daemon=True,
                                      name=f"dcctl-top-{name}")  # fmt: skip
            thread.start()
            self.threads.append(thread)
        return self

    def close(self) -> None:
        """Stop every reader (their streams and connections close)."""
        self.stop.set()
        deadline = time.monotonic() + 2.0  # readers are daemons: never wait long for them all
        for thread in self.threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.context.close()

    def view(self) -> list[HostLive]:
        """Every host's latest state (stale ones marked)."""
        now = time.monotonic()
        with self.lock:
            out = []
            for name in self.hosts:
                live = self.state[name]
                if (live.status == "ok" and live.updated is not None
                        and now - live.updated > 3 * self.interval_s + 5):  # fmt: skip
                    live = HostLive(name, live.gpus, "stale", "no sample for "
                                    f"{now - live.updated:.0f} s", live.updated)  # fmt: skip
                out.append(live)
            return out

    def _set(self, name: str, **changes: Any) -> None:
        with self.lock:
            live = self.state[name]
            for key, value in changes.items():
                setattr(live, key, value)

    def _watch(self, name: str) -> None:
        backoff = 1.0
        while not self.stop.is_set():
            transport = self.transport_for(name)
            try:
                transport.connect()
                self._stream(name, transport)
                backoff = 1.0
            except Exception as exc:  # a host that fails never stops the others
                self._set(name, status=classify(exc).value, error=str(exc) or type(exc).__name__)
            finally:
                transport.close()
            if self.stop.wait(backoff):
                return
            backoff = min(MAX_BACKOFF_S, backoff * 2)

    def _stream(self, name: str, transport: Transport) -> None:
        stream_of = getattr(transport, "stream", None)
        if stream_of is None:
            raise RuntimeError("this transport cannot stream")
        stream = stream_of(query_command(max(100, int(self.interval_s * 1000))))
        batcher = Batcher()
        apps: dict[str, str] = {}
        samples = 0
        last = time.monotonic()
        try:
            while not self.stop.is_set():
                stream.wait(self.interval_s + 1.0)  # woken by data; the timeout checks staleness
                for gpus in batcher.feed(stream.read_lines()):
                    samples += 1
                    if self.processes_every and samples % self.processes_every == 1:
                        run = transport.run(APPS_COMMAND, timeout=10)
                        apps = parse_apps(run.stdout) if run.rc == 0 else apps
                    last = time.monotonic()
                    self._set(name, gpus=with_processes(gpus, apps), status="ok", error=None,
                              updated=last)  # fmt: skip
                if stream.ended:
                    rest = batcher.current
                    if rest and samples == 0:
                        self._set(name, gpus=sorted(rest.values(), key=lambda g: g.index),
                                  status="ok", updated=time.monotonic())  # fmt: skip
                    raise RuntimeError("nvidia-smi stopped" if samples else "no GPU answer")
                if time.monotonic() - last > 3 * self.interval_s + 5:
                    raise RuntimeError(f"no sample for {time.monotonic() - last:.0f} s")
        finally:
            stream.close()


# -- the power tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerTotal:
    """Draw of one rack, PDU or feed against its budget (None: no budget in the inventory)."""

    kind: str
    name: str
    draw_w: float
    budget_w: float | None
    hosts_known: int
    hosts: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"kind": self.kind, "name": self.name, "draw_w": round(self.draw_w, 1),
                "budget_w": self.budget_w, "hosts_known": self.hosts_known,
                "hosts": self.hosts}  # fmt: skip


def host_draw(inventory: Inventory, live: HostLive) -> float | None:
    """GPU draw measured now plus the profile's non-GPU baseline (None when not known)."""
    gpu = live.total("power")
    if gpu is None or live.status not in ("ok", "stale"):
        return None
    host = inventory.hosts[live.host]
    profile = inventory.profiles.get(host.profile or "")
    return gpu + (profile.baseline_w or 0.0 if profile is not None else 0.0)


def power_totals(inventory: Inventory, fleet: Sequence[HostLive]) -> list[PowerTotal]:
    """Per rack, PDU and feed: measured draw (split evenly over a host's PDUs) vs budget."""
    draws = {h.host: host_draw(inventory, h) for h in fleet}
    racks: dict[str, list[str]] = {}
    pdus: dict[str, float] = {}
    pdu_hosts: dict[str, list[str]] = {}
    for name in draws:
        host = inventory.hosts[name]
        if host.rack:
            racks.setdefault(host.rack, []).append(name)
        for pdu in host.pdus:
            pdu_hosts.setdefault(pdu, []).append(name)
            pdus[pdu] = pdus.get(pdu, 0.0) + (draws[name] or 0.0) / len(host.pdus)
    out = []
    for rack, names in sorted(racks.items()):
        measured = [d for d in (draws[n] for n in names) if d is not None]
        budget = inventory.racks[rack].power_budget_w if rack in inventory.racks else None
        out.append(PowerTotal("rack", rack, sum(measured), budget, len(measured), len(names)))
    feeds: dict[str, tuple[float, set[str]]] = {}
    for pdu, names in sorted(pdu_hosts.items()):
        reported = sum(1 for n in names if draws[n] is not None)
        spec = inventory.pdus.get(pdu)
        out.append(PowerTotal("pdu", pdu, pdus[pdu], spec.max_w if spec else None, reported,
                              len(names)))  # fmt: skip
        if spec is not None:
            total, members = feeds.get(spec.feed, (0.0, set()))
            feeds[spec.feed] = (total + pdus[pdu], members | set(names))
    for feed, (total, members) in sorted(feeds.items()):
        known = sum(1 for n in members if draws[n] is not None)
        spec_feed = inventory.feeds.get(feed)
        out.append(PowerTotal("feed", feed, total, spec_feed.available_w if spec_feed else None,
                              known, len(members)))  # fmt: skip
    return out


SORT_KEYS: dict[str, Callable[[HostLive], Any]] = {
    "host": lambda h: h.host,
    "util": lambda h: -(h.util or -1),
    "mem": lambda h: -(h.total("mem_used") or -1),
    "power": lambda h: -(h.total("power") or -1),
    "temp": lambda h: -(h.temp or -1),
    "status": lambda h: h.status,
}
