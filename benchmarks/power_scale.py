"""Benchmark: a power plan for a generated cluster with tight budgets.

``--gpus 10000 --racks 500`` builds 500 racks of 4-GPU hosts (H100-class limits 200..700 W,
baseline 1.2 kW per host) in rows of 20 racks; each rack has an A and a B PDU on the row's A and
B feeds; rack budgets are 80 % of nominal draw; each feed can carry 60 % of its row's nominal
draw (``--fail-feeds K`` derates the first K A-feeds to 0, moving their load to the B side).
Hosts run a seeded mix of classes (60 % training, 25 % inference-decode, 15 % idle) at
priorities 1-3. Prints build and solve times, objective, bounds and gap; the last line is JSON.

Run by hand: ``.venv/bin/python benchmarks/power_scale.py --gpus 10000 --racks 500``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcctl.inventory.loader import load_inventory
from dcctl.planning.power.plan import solve_plan
from dcctl.planning.power.problem import Assignment, PowerRequest, build_power_problem
from dcctl.planning.power.workloads import BUILTIN
from dcctl.planning.solver_options import SolverOptions

GPUS_PER_HOST = 4
BASELINE_W = 1200
TDP_W = 700
RACKS_PER_ROW = 20


def inventory_text(gpus: int, racks: int) -> str:
    """The generated inventory."""
    hosts_total = gpus // GPUS_PER_HOST
    per_rack = [hosts_total // racks + (1 if r < hosts_total % racks else 0) for r in range(racks)]
    node_w = BASELINE_W + GPUS_PER_HOST * TDP_W
    rows = math.ceil(racks / RACKS_PER_ROW)
    lines = [
        "profiles:",
        "  n4:",
        f"    baseline_w: {BASELINE_W}",
        f"    gpu: {{model: NVIDIA H100, count: {GPUS_PER_HOST}, tdp_w: {TDP_W},",
        "          power_limit_w: {min: 200, default: 700, max: 700}}",
        "hosts:",
        f"  - {{name: 'n[00001-{hosts_total:05d}]', profile: n4}}",
        "sites:",
        "  - name: dc",
        "    feeds:",
    ]
    row_nominal = [0.0] * rows
    for r, count in enumerate(per_rack):
        row_nominal[r // RACKS_PER_ROW] += count * node_w
    for row in range(rows):
        # 415 V three-phase at 100 % utilisation; each side can carry 60 % of the row's nominal
        # draw (A/B: half of it normally), so the inventory is valid; racks are the tight part.
        amps = 0.6 * row_nominal[row] / (415 * math.sqrt(3))
        for side in "ab":
            lines.append(
                f"      - {{name: f{row}{side}, voltage: 415, amps: {amps:.1f}, phase: three, "
                "max_utilization: 100}"
            )
    lines += ["    rooms:", "      - name: hall", "        rows:"]
    n = 1
    for row in range(rows):
        lines += [f"          - name: row{row}", "            racks:"]
        for r in range(row * RACKS_PER_ROW, min(racks, (row + 1) * RACKS_PER_ROW)):
            count = per_rack[r]
            hosts = f"n[{n:05d}-{n + count - 1:05d}]"
            n += count
            budget = 0.8 * count * node_w
            lines.append(
                f"              - {{name: r{r:03d}, hosts: '{hosts}', "
                f"power_budget_w: {budget:.0f}, "
                f"pdus: [{{name: p{r:03d}a, feed: f{row}a, hosts: '{hosts}'}}, "
                f"{{name: p{r:03d}b, feed: f{row}b, hosts: '{hosts}'}}]}}"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Generate, build, solve, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=10_000)
    parser.add_argument("--racks", type=int, default=500)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fail-feeds", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "inventory.yaml"
        path.write_text(inventory_text(args.gpus, args.racks))
        inventory = load_inventory(path)
    rng = random.Random(args.seed)
    assignments = {}
    for name in inventory.hosts:
        workload = rng.choices(["training", "inference-decode", "idle"], [60, 25, 15])[0]
        assignments[name] = Assignment(workload, rng.randint(1, 3))
    derate = {f"f{row}a": 0.0 for row in range(args.fail_feeds)}
    problem = build_power_problem(inventory, PowerRequest(BUILTIN, assignments, derate=derate))
    built = time.perf_counter()
    plan = solve_plan(
        problem, SolverOptions(time_limit_s=args.time_limit, workers=args.workers, seed=args.seed)
    )
    done = time.perf_counter()
    levels = sum(len(g.levels_w) for g in problem.groups)
    print(f"machine: {platform.node()}, Python {platform.python_version()}")
    print(
        f"{problem.gpus} GPUs, {len(inventory.hosts)} hosts, {len(inventory.racks)} racks, "
        f"{len(problem.budgets)} budgets; {len(problem.groups)} GPU groups, "
        f"{levels} integer variables; failed feeds: {sorted(derate) or 'none'}"
    )
    print(f"build (inventory + problem): {built - start:.2f} s; solve: {done - built:.2f} s")
    print(
        f"status {plan.status}; objective {plan.objective:.2f}; bound {plan.bound:.2f}; "
        f"LP bound {plan.lp_bound:.2f}; gap {100 * plan.gap:.3f} %; "
        f"throughput {plan.throughput:.1f} of {plan.default_throughput:.1f} at default limits"
    )
    over = [b.name for b in plan.budgets if b.planned_w > b.budget_w + 1e-6]
    print(f"budgets exceeded: {len(over)}")
    print(
        json.dumps(
            {
                "gpus": problem.gpus,
                "racks": len(inventory.racks),
                "wall_s": round(done - built, 2),
                "gap_pct": round(100 * plan.gap, 3),
                "status": plan.status,
            }
        )
    )


if __name__ == "__main__":
    main()
