"""Rendering a capacity plan: the short answer first, then assumptions and results per profile."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from dcctl.planning.capacity.fit import Fit
from dcctl.planning.capacity.report import CapacityPlan, WorkloadPlan, headline
from dcctl.planning.capacity.sizing import InferenceSize, TrainingSize
from dcctl.render.console import new_table


def render_capacity(console: Console, plan: CapacityPlan) -> None:
    """Per workload: the headline, the fits table, the details of the best fit, the sweep."""
    for i, workload in enumerate(plan.workloads):
        if i:
            console.print()
        style = "green" if workload.ok else "red"
        console.print(f"[{style}]{escape(headline(workload))}[/{style}]", soft_wrap=True)
        if not workload.fits:
            continue
        _fits_table(console, workload)
        _details(console, workload.fits[0])
        if workload.sweep:
            _sweep_table(console, workload)


def _fits_table(console: Console, plan: WorkloadPlan) -> None:
    table = new_table(console, "profile", "GPU", "GPUs", "free", "nodes", "racks", "time",
                      "W/GPU", "IT kW", "fits")  # fmt: skip
    for fit in plan.fits:
        table.add_row(
            escape(fit.profile), fit.gpu.name, f"{fit.gpus:,}", f"{fit.free_gpus:,}",
            str(fit.nodes), escape(", ".join(fit.racks) or "-"), _time(fit),
            f"{fit.gpu_watts:.0f}", f"{fit.it_kw:,.1f}",
            "yes" if fit.fits else "[red]no[/red]",
        )  # fmt: skip
    console.print(table)
    for fit in plan.fits:
        for problem in fit.problems:
            console.print(f"  [red]{escape(fit.profile)}: {escape(problem)}[/red]", soft_wrap=True)


def _time(fit: Fit) -> str:
    if fit.seconds is None:
        return "service"
    days = fit.seconds / 86400
    return f"{days:,.1f} d" if days >= 1 else f"{fit.seconds / 3600:,.1f} h"


def _details(console: Console, fit: Fit) -> None:
    size = fit.size
    lines: list[str] = []
    if isinstance(size, TrainingSize):
        par = size.parallelism
        m = size.memory
        lines += [
            f"compute: {size.flops:.3g} FLOPs at {size.mfu * 100:.1f} % MFU ({size.mfu_source})",
            f"parallelism: TP {par.tensor} × PP {par.pipeline} × DP {par.data(size.gpus)}, "
            f"ZeRO {par.zero}, {par.recompute} recomputation",
            f"memory per GPU: {m.model_states / 1e9:.1f} GB model states + "
            f"{m.activations / 1e9:.1f} GB activations = {m.total / 1e9:.1f} of "
            f"{m.capacity / 1e9:.1f} GB usable",
            f"step of {size.step_tokens:,.0f} tokens: compute {size.step_compute_s:.2f} s, "
            f"gradient all-reduce {size.step_allreduce_s:.2f} s: {size.bound_by}-bound",
            f"checkpoint {size.checkpoint_bytes / 1e9:,.0f} GB, {size.checkpoint_write_s:,.0f} s "
            f"to write at {size.workload.storage_gbps:g} GB/s; dataset ≈ "
            f"{size.dataset_bytes / 1e12:,.1f} TB of text",
            f"power: {fit.power_note}; {fit.it_kw:,.1f} kW IT × PUE {fit.pue:g} = "
            f"{fit.facility_kw:,.1f} kW; {fit.energy_mwh or 0:,.1f} MWh, "
            f"{fit.cost or 0:,.0f} at {fit.price_per_kwh:g}/kWh",
        ]
    else:
        assert isinstance(size, InferenceSize)
        lines += [
            f"memory per replica: weights {size.weights_bytes / 1e9:,.1f} GB + "
            f"{size.sequences_per_replica} × {size.kv_bytes_per_sequence / 1e9:.2f} GB KV cache "
            f"= {size.replica_bytes / 1e9:,.1f} GB on {size.gpus_per_replica} GPUs "
            f"(weights alone: {size.min_gpus_for_weights})",
            f"per replica: decode {size.decode_tokens_per_s:,.0f} tokens/s (memory-bound), "
            f"prefill {size.prefill_tokens_per_s:,.0f} tokens/s (compute-bound)",
            f"power: {fit.power_note}; {fit.it_kw:,.1f} kW IT, {fit.facility_kw:,.1f} kW facility",
        ]
    for note in size.notes:
        lines.append(f"note: {note}")
    for line in lines:
        console.print(f"  {escape(line)}", soft_wrap=True)


def _sweep_table(console: Console, plan: WorkloadPlan) -> None:
    table = new_table(console, "GPUs", "time", "GPU-hours", "W/GPU", "facility MW", "MWh",
                      "fits", title="trade-off")  # fmt: skip
    for fit in plan.sweep:
        hours = fit.size.gpu_hours if isinstance(fit.size, TrainingSize) else 0.0
        table.add_row(
            f"{fit.gpus:,}", _time(fit), f"{hours:,.0f}", f"{fit.gpu_watts:.0f}",
            f"{fit.facility_kw / 1000:,.2f}", f"{fit.energy_mwh or 0:,.0f}",
            "yes" if fit.fits else "no",
        )  # fmt: skip
    console.print(table)
