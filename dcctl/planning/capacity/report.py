"""A capacity plan: every workload fitted to the site, a trade-off sweep, as one value."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dcctl.errors import InputError
from dcctl.inventory.model import Inventory
from dcctl.planning.capacity.fit import CapacityOptions, Fit, fit_workload
from dcctl.planning.capacity.sizing import InferenceSize, TrainingSize
from dcctl.planning.capacity.workloads import Training, Workload

_SWEEP = re.compile(r"^gpus=(\d+)\.\.(\d+)$")


def parse_sweep(text: str) -> list[int]:
    """``gpus=1024..16384`` → 1024, 2048, …, 16384 (doubling; the end always included)."""
    m = _SWEEP.match(text.strip())
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < int(m.group(1)):
        raise InputError(f"--sweep {text!r}: expected gpus=FROM..TO, such as gpus=1024..16384")
    start, end = int(m.group(1)), int(m.group(2))
    out: list[int] = []
    n = start
    while n < end and len(out) < 64:
        out.append(n)
        n *= 2
    out.append(end)
    return out


@dataclass
class WorkloadPlan:
    """One workload: its fits on the site's profiles (best first) and its sweep."""

    workload: Workload
    fits: list[Fit]
    sweep: list[Fit] = field(default_factory=list)

    @property
    def best(self) -> Fit | None:
        """The first fit (fits and fastest), if any profile qualifies."""
        return self.fits[0] if self.fits else None

    @property
    def ok(self) -> bool:
        """Some profile of the site runs it."""
        return self.best is not None and self.best.fits


@dataclass
class CapacityPlan:
    """Every workload of a file, fitted."""

    workloads: list[WorkloadPlan]

    @property
    def ok(self) -> bool:
        """Every workload fits the site."""
        return all(w.ok for w in self.workloads)


def plan_capacity(
    inventory: Inventory,
    workloads: Sequence[Workload],
    options: CapacityOptions,
    sweep: Sequence[int] = (),
) -> CapacityPlan:
    """Fit each workload to the site; with ``sweep``, the best profile at each GPU count."""
    out: list[WorkloadPlan] = []
    for workload in workloads:
        fits = fit_workload(inventory, workload, options)
        rows: list[Fit] = []
        if sweep and fits:
            profile = fits[0].profile
            for gpus in sweep:
                rows += [f for f in fit_workload(inventory, workload, options, gpus)
                         if f.profile == profile]  # fmt: skip
        out.append(WorkloadPlan(workload, fits, rows))
    return CapacityPlan(out)


def headline(plan: WorkloadPlan) -> str:
    """The short answer: what it takes, in one line."""
    w, best = plan.workload, plan.best
    if best is None:
        model = f" {w.gpu_model}" if w.gpu_model else ""
        return f"{w.name}: no profile of this site has known{model} GPUs"
    verdict = "fits" if best.fits else "does not fit: " + "; ".join(best.problems)
    size = best.size
    if isinstance(size, TrainingSize):
        assert isinstance(w, Training)
        return (
            f"{w.name}: {_count(w.params)} params, {_count(w.tokens)} tokens on {best.gpu.name}: "
            f"{size.flops:.2g} FLOPs; {size.gpus:,} GPUs × {(best.seconds or 0) / 86400:.1f} days "
            f"at {size.mfu * 100:.0f} % MFU ({size.gpu_hours:,.0f} GPU-hours); "
            f"{best.it_kw / 1000:.2f} MW IT, {best.facility_kw / 1000:.2f} MW facility; "
            f"{best.energy_mwh or 0:,.0f} MWh; {verdict}"
        )
    assert isinstance(size, InferenceSize)
    return (
        f"{w.name}: {_count(w.params)} params in {w.precision} on {best.gpu.name}: "
        f"{size.gpus_per_replica} GPUs per replica ({size.replica_bytes / 1e9:.0f} GB), "
        f"{size.replicas} replica(s) = {size.gpus} GPUs, "
        f"{size.decode_tokens_per_s * size.replicas:,.0f} tokens/s decode; "
        f"{best.facility_kw:.0f} kW facility; {verdict}"
    )


def _count(value: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:g}"


def capacity_document(plan: CapacityPlan) -> dict[str, Any]:
    """JSON-ready (schema dcctl.plan.capacity/1)."""
    return {"ok": plan.ok, "workloads": [_workload_doc(w) for w in plan.workloads]}


def _workload_doc(plan: WorkloadPlan) -> dict[str, Any]:
    w = plan.workload
    return {
        "name": w.name,
        "kind": "training" if isinstance(w, Training) else "inference",
        "fits": plan.ok,
        "summary": headline(plan),
        "profiles": [fit_document(f) for f in plan.fits],
        "sweep": [fit_document(f) for f in plan.sweep],
    }


def fit_document(fit: Fit) -> dict[str, Any]:
    """One fit as JSON."""
    doc: dict[str, Any] = {
        "profile": fit.profile,
        "gpu_model": fit.gpu.name,
        "gpus": fit.gpus,
        "free_gpus": fit.free_gpus,
        "nodes": fit.nodes,
        "racks": fit.racks,
        "fits": fit.fits,
        "problems": fit.problems,
        "gpu_watts": round(fit.gpu_watts, 1),
        "throughput_at_caps": round(fit.throughput, 4),
        "power": fit.power_note,
        "it_kw": round(fit.it_kw, 2),
        "facility_kw": round(fit.facility_kw, 2),
        "pue": fit.pue,
    }
    size = fit.size
    if isinstance(size, TrainingSize):
        par = size.parallelism
        doc.update(
            flops=size.flops,
            mfu=round(size.mfu, 4),
            mfu_source=size.mfu_source,
            days=round((fit.seconds or 0) / 86400, 3),
            gpu_hours=round(size.gpu_hours, 1),
            energy_mwh=round(fit.energy_mwh or 0, 3),
            cost=round(fit.cost or 0, 2),
            parallelism={
                "tensor": par.tensor,
                "pipeline": par.pipeline,
                "data": par.data(size.gpus),
                "zero": par.zero,
                "recompute": par.recompute,
            },
            memory_gb={
                "model_states": round(size.memory.model_states / 1e9, 2),
                "activations": round(size.memory.activations / 1e9, 2),
                "total": round(size.memory.total / 1e9, 2),
                "usable": round(size.memory.capacity / 1e9, 2),
            },
            step={
                "tokens": size.step_tokens,
                "compute_s": round(size.step_compute_s, 4),
                "allreduce_s": round(size.step_allreduce_s, 4),
                "bound_by": size.bound_by,
            },
            checkpoint={
                "gb": round(size.checkpoint_bytes / 1e9, 1),
                "write_s": round(size.checkpoint_write_s, 1),
            },
            dataset_gb=round(size.dataset_bytes / 1e9, 1),
            notes=size.notes,
        )
    else:
        doc.update(
            weights_gb=round(size.weights_bytes / 1e9, 2),
            kv_gb_per_sequence=round(size.kv_bytes_per_sequence / 1e9, 4),
            sequences_per_replica=size.sequences_per_replica,
            gpus_per_replica=size.gpus_per_replica,
            min_gpus_for_weights=size.min_gpus_for_weights,
            replicas=size.replicas,
            decode_tokens_per_s=round(size.decode_tokens_per_s * size.replicas, 1),
            prefill_tokens_per_s=round(size.prefill_tokens_per_s * size.replicas, 1),
            notes=size.notes,
        )
    return doc
