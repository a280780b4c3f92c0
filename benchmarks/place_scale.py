"""Benchmark: `plan place` on a generated fleet — hosts in racks and leaf domains, a job mix.

Hosts: 8-GPU H100 nodes, 8 per rack, one leaf switch per rack. Jobs: single-GPU and shared-GPU
jobs in a few shapes (aggregated by the solver), 2- and 4-GPU jobs, and 2–4 replica gangs of
8 GPUs kept in one rack. Prints the time of each phase, the solver's status, objective, bound,
and the greedy hint's objective.

Run by hand: ``.venv/bin/python benchmarks/place_scale.py --hosts 256 --jobs 600``
(``--mode classes|nodes|auto``: node classes, host by host, or dcctl's own choice).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcctl.inventory.loader import load_inventory
from dcctl.planning.placement.input_files import read_jobs
from dcctl.planning.placement.plan import build_problem, plan_placement
from dcctl.planning.placement.problem import make_units
from dcctl.planning.solver_options import SolverOptions


def inventory_yaml(hosts: int) -> str:
    racks = hosts // 8
    lines = [
        "profiles:",
        "  h100: {cpus: 224, memory_gib: 2048, gpu: {model: H100, count: 8, tdp_w: 700}}",
        f"hosts:\n  - {{name: 'gpu[0001-{hosts:04d}]', profile: h100}}",
        "sites:\n  - name: s1\n    rooms:\n      - name: r1\n        racks:",
    ]
    for r in range(racks):
        lo, hi = r * 8 + 1, r * 8 + 8
        lines.append(f"          - {{name: rack-{r:03d}, hosts: 'gpu[{lo:04d}-{hi:04d}]'}}")
    lines.append("domains:")
    for r in range(racks):
        lo, hi = r * 8 + 1, r * 8 + 8
        lines.append(
            f"  - {{name: leaf-{r:03d}, kind: leaf_switch, hosts: 'gpu[{lo:04d}-{hi:04d}]'}}"
        )
    return "\n".join(lines) + "\n"


def jobs_yaml(jobs: int, seed: int) -> str:
    rng = random.Random(seed)
    out = ["jobs:"]
    for i in range(jobs):
        kind = rng.random()
        if kind < 0.45:
            gpus, cpus = rng.choice([(0.25, 4), (0.5, 8)])
            out.append(f"  - {{name: share-{i}, gpus: {gpus}, cpus: {cpus}, memory_gib: 32}}")
        elif kind < 0.8:
            out.append(f"  - {{name: one-{i}, gpus: 1, cpus: 16, memory_gib: 128}}")
        elif kind < 0.95:
            g = rng.choice([2, 4])
            out.append(f"  - {{name: multi-{i}, gpus: {g}, cpus: {g * 16}, priority: 2}}")
        else:
            r = rng.choice([2, 3, 4])
            out.append(f"  - {{name: gang-{i}, replicas: {r}, gpus: 8, cpus: 128, "
                       "same: leaf_switch, priority: 3}")  # fmt: skip
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--mode", choices=["auto", "classes", "nodes"], default="auto")
    args = parser.parse_args()
    aggregate = {"auto": None, "classes": True, "nodes": False}[args.mode]
    with tempfile.TemporaryDirectory() as tmp:
        inv_path = Path(tmp) / "inv.yaml"
        inv_path.write_text(inventory_yaml(args.hosts))
        jobs_path = Path(tmp) / "jobs.yaml"
        jobs_path.write_text(jobs_yaml(args.jobs, 0))
        t0 = time.perf_counter()
        inventory = load_inventory(inv_path)
        jobs = read_jobs(jobs_path, inventory)
        problem = build_problem(inventory, jobs)
        t1 = time.perf_counter()
        units = make_units(problem)
        plan = plan_placement(problem, SolverOptions(time_limit_s=args.time_limit), aggregate)
        t2 = time.perf_counter()
    s = plan.solution
    asked = sum(j.demand_milli for j in jobs) / 1000
    print(f"{args.hosts} hosts / {args.hosts * 8} GPUs, {len(jobs)} jobs ({asked:g} GPUs asked), "
          f"{len(units)} solver units, {s.node_classes or 'no'} node classes; "
          f"{platform.node()} {platform.python_version()}")  # fmt: skip
    print(f"  read + build {t1 - t0:.2f} s; plan (greedy + CP-SAT + reasons) {t2 - t1:.2f} s")
    print(f"  status {s.status}, objective {s.objective:g}, bound {s.bound:g}, "
          f"greedy {plan.greedy_objective:g}, left out {len(plan.left_out)}, "
          f"stranded {plan.stranded_milli / 1000:g} GPUs on {plan.stranded_hosts} hosts, "
          f"fragmentation {s.fragmentation}")  # fmt: skip
    print(json.dumps({"hosts": args.hosts, "jobs": len(jobs), "units": len(units),
                      "node_classes": s.node_classes, "left_out": len(plan.left_out),
                      "stranded_gpus": plan.stranded_milli / 1000,
                      "fragmentation": s.fragmentation,
                      "plan_s": round(t2 - t1, 2), "status": s.status, "objective": s.objective,
                      "bound": s.bound, "greedy": plan.greedy_objective}))  # fmt: skip


if __name__ == "__main__":
    main()
