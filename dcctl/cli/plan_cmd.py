"""``dcctl plan``: placement and power plans."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from dcctl.cli.state import State
from dcctl.errors import ExitCode, InputError
from dcctl.planning.capacity.assumptions import DEFAULT_PRICE, DEFAULT_PUE
from dcctl.planning.power.problem import DEFAULT_STEP_W, PowerRequest
from dcctl.render.output import Output

if TYPE_CHECKING:
    from dcctl.planning.solver_options import SolverOptions

app = typer.Typer(name="plan", help="Plan placement and power.", no_args_is_help=True)

# Options both planners share.
LimitOption = Annotated[
    str | None, typer.Option("-l", "--limit", metavar="PATTERN", help="Only these hosts.")
]
TimeLimitOption = Annotated[float, typer.Option("--time-limit", min=0.1, help="Solver seconds.")]
WorkersOption = Annotated[int, typer.Option("--workers", min=1, help="Solver threads.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Solver seed.")]
GapOption = Annotated[
    str, typer.Option("--gap", help="Stop once proven within this of the optimum (0 = prove).")
]


def parse_fraction(text: str, what: str) -> float:
    """``10%`` or ``0.1`` → 0.1."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InputError(
            f"{what}: '{text}' is not a fraction (0.1) or a percentage (10%)"
        ) from None
    if not 0 <= value <= 1:
        raise InputError(f"{what}: '{text}' must be between 0 and 100%")
    return value


def solver_options(time_limit: float, workers: int, seed: int, gap: str) -> SolverOptions:
    """The solver options both planners take from the command line."""
    from dcctl.planning.solver_options import SolverOptions

    return SolverOptions(
        time_limit_s=time_limit,
        workers=workers,
        seed=seed,
        relative_gap=parse_fraction(gap, "--gap"),
    )


def parse_derate(items: list[str]) -> dict[str, float]:
    """``feed-a=0`` / ``feed-b=50%`` → feed → surviving fraction."""
    out = {}
    for item in items:
        feed, sep, value = item.partition("=")
        if not sep or not feed:
            raise InputError(f"--derate '{item}': write FEED=FRACTION, e.g. feed-a=0 or feed-b=50%")
        out[feed.strip()] = parse_fraction(value, f"--derate {feed}")
    return out


@app.command()
def place(
    ctx: typer.Context,
    jobs: Annotated[Path, typer.Argument(metavar="JOBS", help="Jobs file (YAML).")],
    allocations: Annotated[
        Path | None,
        typer.Option("--allocations", metavar="FILE", help="What already runs (YAML or JSON)."),
    ] = None,
    findings: Annotated[
        Path | None,
        typer.Option(
            "--findings",
            metavar="FILE",
            help="dcctl probe -o json output: hosts with warnings are avoided by jobs that ask.",
        ),
    ] = None,
    busy_from: Annotated[
        Path | None,
        typer.Option(
            "--allocations-from-probe",
            metavar="FILE",
            help="dcctl probe -o json output: GPUs with compute processes (or over 1 GiB of "
            "memory in use) count as taken.",
        ),
    ] = None,
    allocations_from: Annotated[
        str | None,
        typer.Option(
            "--allocations-from",
            metavar="SCHEDULER",
            help="slurm: start from the GPUs, CPUs and memory Slurm has given to jobs now.",
        ),
    ] = None,
    limit: LimitOption = None,
    time_limit: TimeLimitOption = 10.0,
    workers: WorkersOption = 1,
    seed: SeedOption = 0,
    gap: GapOption = "0.1%",
    node_classes: Annotated[
        bool | None,
        typer.Option(
            "--node-classes/--per-node",
            help="Solve on classes of identical hosts, or host by host "
            "(default: classes from 256 hosts on, when they fall into few classes).",
        ),
    ] = None,
) -> None:
    """Which job replicas go on which hosts and GPUs (a plan; nothing is changed).

    Exit status 0 when every job is placed; 1 when some are left out (each with its reason).
    """
    from dcctl.planning.placement.input_files import (
        allocations_from_probe,
        findings_from_probe,
        merge_usage,
        read_allocations,
        read_jobs,
    )
    from dcctl.planning.placement.plan import build_problem, plan_placement
    from dcctl.render.placement import plan_document, render_placement_plan

    state: State = ctx.obj
    inventory = state.inventory()
    hosts = frozenset(inventory.select(limit).names) if limit else None
    job_list = read_jobs(jobs, inventory)
    usage = read_allocations(allocations, inventory) if allocations else None
    if busy_from is not None:
        usage = merge_usage(usage or {}, allocations_from_probe(busy_from, inventory))
    if allocations_from is not None:
        if allocations_from != "slurm":
            raise InputError(f"--allocations-from '{allocations_from}': the scheduler is 'slurm'")
        from dcctl.planning.placement.input_files import allocations_from_slurm
        from dcctl.scheduler.status import node_states

        scope = list(hosts) if hosts is not None else list(inventory.hosts)
        in_slurm = node_states(inventory, scope)
        usage = merge_usage(usage or {}, allocations_from_slurm(in_slurm, inventory))
    flagged = findings_from_probe(findings) if findings else None
    problem = build_problem(inventory, job_list, usage, flagged, hosts)
    plan = plan_placement(problem, solver_options(time_limit, workers, seed, gap), node_classes)
    state.emit(
        Output(
            "plan.place",
            lambda: plan_document(plan),
            lambda console: render_placement_plan(console, plan),
        )
    )
    if plan.left_out:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
def power(
    ctx: typer.Context,
    headroom: Annotated[
        str, typer.Option("--headroom", help="Keep this share of every budget free (10% or 0.1).")
    ] = "0%",
    class_map: Annotated[
        Path | None,
        typer.Option("--class-map", metavar="FILE", help="Workload class and priority per host."),
    ] = None,
    derate: Annotated[
        list[str] | None,
        typer.Option(
            "--derate", metavar="FEED=F", help="A feed keeps only F of its power (0 = failed)."
        ),
    ] = None,
    fair: Annotated[
        bool, typer.Option("--fair", help="Max-min fair first (raise the worst GPU), then total.")
    ] = False,
    step: Annotated[float, typer.Option("--step", min=1, help="Cap grid in W.")] = DEFAULT_STEP_W,
    limit: LimitOption = None,
    time_limit: TimeLimitOption = 10.0,
    workers: WorkersOption = 1,
    seed: SeedOption = 0,
    gap: GapOption = "0.1%",
    probe_results: Annotated[
        Path | None,
        typer.Option(
            "--probe-results",
            metavar="FILE",
            help="GPU power limits as probed (dcctl probe -o json) instead of the profiles'.",
        ),
    ] = None,
    emit_playbook: Annotated[
        Path | None,
        typer.Option("--emit-playbook", metavar="FILE", help="Write a playbook setting the caps."),
    ] = None,
) -> None:
    """A power cap for every GPU that keeps every feed, PDU and rack within budget.

    Exit status 0 with a plan; 1 when no caps suffice (the racks that must shed load are listed).
    """
    from dcctl.planning.power.class_map import default_class_map, read_class_map
    from dcctl.planning.power.plan import plan_power
    from dcctl.planning.power.playbook import power_playbook
    from dcctl.render.power import plan_document, render_power_plan

    state: State = ctx.obj
    inventory = state.inventory()
    hosts = frozenset(inventory.select(limit).names) if limit else None
    classes = read_class_map(class_map, inventory) if class_map else default_class_map(inventory)
    measured = None
    if probe_results is not None:
        from dcctl.planning.power.problem import limits_from_probe
        from dcctl.probes.summary import probe_documents

        measured = limits_from_probe(probe_documents(probe_results, "--probe-results"))
    request = PowerRequest(
        classes.classes,
        classes.assignments,
        headroom=parse_fraction(headroom, "--headroom"),
        derate=parse_derate(derate or []),
        floors=classes.floors,
        fairness=fair,
        step_w=step,
        hosts=hosts,
        measured=measured or {},
    )
    plan = plan_power(inventory, request, solver_options(time_limit, workers, seed, gap))
    if emit_playbook is not None and plan.feasible:
        emit_playbook.write_text(
            "# Written by dcctl plan power. Review with: dcctl apply FILE --dry-run\n"
            + yaml.safe_dump(power_playbook(plan), sort_keys=False, width=100)
        )
    state.emit(
        Output(
            "plan.power",
            lambda: plan_document(plan),
            lambda console: render_power_plan(console, plan),
        )
    )
    if not plan.feasible:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
def capacity(
    ctx: typer.Context,
    workloads: Annotated[Path, typer.Argument(metavar="WORKLOADS", help="Workloads file.")],
    sweep: Annotated[
        str | None,
        typer.Option("--sweep", metavar="gpus=A..B", help="Trade-off table over GPU counts."),
    ] = None,
    pue: Annotated[
        float, typer.Option("--pue", min=1.0, max=3.0, help="Facility power / IT power.")
    ] = DEFAULT_PUE,
    price: Annotated[
        float, typer.Option("--price-per-kwh", min=0.0, help="Energy price, per kWh.")
    ] = DEFAULT_PRICE,
    allocations: Annotated[
        Path | None,
        typer.Option("--allocations", metavar="FILE", help="What already runs (as plan place)."),
    ] = None,
    limit: LimitOption = None,
) -> None:
    """How many GPUs, how long, how much power, and whether it fits this site.

    Exit status 0 when every workload fits, 1 when one does not (it says what would), 64 for
    bad input.
    """
    from dcctl.planning.capacity.fit import CapacityOptions
    from dcctl.planning.capacity.report import capacity_document, parse_sweep, plan_capacity
    from dcctl.planning.capacity.workloads import read_workloads
    from dcctl.render.capacity import render_capacity

    state: State = ctx.obj
    inventory = state.inventory()
    parsed = read_workloads(workloads)
    busy: dict[str, int] = {}
    if allocations is not None:
        from dcctl.planning.placement.input_files import read_allocations

        for host, usage in read_allocations(allocations, inventory).items():
            busy[host] = len(usage.get("gpus", {}))  # a GPU with any share taken is not free
    options = CapacityOptions(
        pue=pue,
        price_per_kwh=price,
        busy_gpus=busy,
        hosts=frozenset(inventory.select(limit).names) if limit else None,
    )
    plan = plan_capacity(inventory, parsed, options, parse_sweep(sweep) if sweep else ())
    state.emit(
        Output(
            "plan.capacity",
            lambda: capacity_document(plan),
            lambda console: render_capacity(console, plan),
        )
    )
    if not plan.ok:
        raise typer.Exit(int(ExitCode.FINDINGS))
