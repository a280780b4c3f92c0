"""Fleet-relative outliers: the GPU that is far from its peers, which no single-node tool sees.

Peers are a cohort: GPUs of hosts with the same profile (or, without one, the same GPU model).
Within a cohort each metric is judged with robust statistics: the median and the median absolute
deviation (MAD), and the modified z-score 0.6745·(x − median)/MAD; |z| > 3.5 is an outlier
(Iglewicz & Hoaglin 1993, *How to Detect and Handle Outliers*). When most peers agree exactly
(MAD 0), a value that differs from the median by more than the metric's tolerance is one. A
cohort needs at least ``MIN_PEERS`` GPUs with the metric; smaller ones are not judged.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dcctl.checks.findings import Action, Finding, Severity
from dcctl.probes.gpu_model import GpuInfo, GpuReport

MIN_PEERS = 5
Z_LIMIT = 3.5
SOURCE = "fleet-relative: modified z-score over the cohort's median and MAD (Iglewicz & Hoaglin)"
BUSY_PCT = 50.0
IDLE_PCT = 10.0


@dataclass(frozen=True)
class OutlierMetric:
    """A per-GPU value to compare with peers, which side is bad, and the smallest real gap."""

    name: str
    describe: str
    value: Callable[[GpuInfo], float | None]
    side: str  # "low", "high" or "both"
    tolerance: float  # below this absolute gap nothing is an outlier


def _busy(g: GpuInfo) -> bool:
    return g.utilization_pct is not None and g.utilization_pct >= BUSY_PCT


def _idle(g: GpuInfo) -> bool:
    return g.utilization_pct is not None and g.utilization_pct < IDLE_PCT


METRICS = (
    OutlierMetric("power_limit", "power limit (W)", lambda g: g.power_limit_w, "both", 10.0),
    OutlierMetric("sm_clock_max", "maximum SM clock (MHz)", lambda g: g.sm_clock_max_mhz,
                  "both", 50.0),
    OutlierMetric("sm_clock_busy", "SM clock when busy (MHz)",
                  lambda g: g.sm_clock_mhz if _busy(g) else None, "low", 100.0),
    OutlierMetric("temperature_busy", "temperature when busy (°C)",
                  lambda g: g.temperature_c if _busy(g) else None, "high", 5.0),
    OutlierMetric("temperature_idle", "temperature when idle (°C)",
                  lambda g: g.temperature_c if _idle(g) else None, "high", 5.0),
    OutlierMetric("pcie_width", "PCIe link width at maximum",
                  lambda g: float(g.pcie_width_max) if g.pcie_width_max else None, "low", 1.0),
    OutlierMetric("ecc_corrected", "corrected ECC errors since the driver loaded",
                  lambda g: float(g.ecc_corrected_volatile)
                  if g.ecc_corrected_volatile is not None else None, "high", 100.0),
)  # fmt: skip


def outlier_findings(
    reports: Mapping[str, Mapping[str, object]], cohort_of: Mapping[str, str]
) -> dict[str, list[Finding]]:
    """Per host, its GPUs that are outliers within their cohort.

    ``reports`` maps a host to its probe results; ``cohort_of`` maps a host to its cohort name
    (hosts missing from it are grouped by GPU model).
    """
    members: dict[str, list[tuple[str, GpuInfo]]] = {}
    for host, results in reports.items():
        gpu = results.get("gpu")
        if not isinstance(gpu, GpuReport) or not gpu.gpus:
            continue
        for g in gpu.gpus:
            cohort = cohort_of.get(host) or f"model {g.name or '?'}"
            members.setdefault(cohort, []).append((host, g))
    out: dict[str, list[Finding]] = {}
    for cohort, gpus in members.items():
        for metric in METRICS:
            values = [(h, g, metric.value(g)) for h, g in gpus]
            known = [(h, g, v) for h, g, v in values if v is not None]
            if len(known) < MIN_PEERS:
                continue
            for host, g, value, median, mad, z in _outliers(metric, known):
                out.setdefault(host, []).append(Finding(
                    Severity.warning, "gpu", f"outlier_{metric.name}",
                    f"{metric.describe} {value:g} is far from its {len(known)} peers' median "
                    f"{median:g} ({cohort})",
                    f"GPU{g.index}", Action.monitor, SOURCE,
                    {"value": value, "median": median, "mad": mad,
                     "z": None if z is None else round(z, 2), "peers": len(known),
                     "cohort": cohort},
                ))  # fmt: skip
    return out


def _outliers(
    metric: OutlierMetric, known: Sequence[tuple[str, GpuInfo, float]]
) -> list[tuple[str, GpuInfo, float, float, float, float | None]]:
    numbers = [v for _, _, v in known]
    median = statistics.median(numbers)
    mad = statistics.median(abs(v - median) for v in numbers)
    found = []
    for host, g, value in known:
        gap = value - median
        if abs(gap) < metric.tolerance:
            continue
        if (metric.side == "low" and gap > 0) or (metric.side == "high" and gap < 0):
            continue
        z = 0.6745 * gap / mad if mad else None
        if z is None or abs(z) > Z_LIMIT:
            found.append((host, g, value, median, mad, z))
    return found
