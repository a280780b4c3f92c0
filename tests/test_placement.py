"""Placement plans: hand-computed optima the greedy misses, gangs, affinity and anti-affinity,
model and findings constraints, shares, rack power, bad input, determinism and the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import AllocationsFileError, ExitCode, InputError, JobsFileError
from dcctl.inventory.loader import load_inventory
from dcctl.planning.placement.input_files import read_allocations, read_jobs
from dcctl.planning.placement.plan import build_problem, plan_placement
from dcctl.planning.solver_options import SolverOptions
from dcctl.render.placement import plan_document

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example.yaml"
EXACT = SolverOptions(time_limit_s=10, workers=1, seed=0, relative_gap=0.0)

CLUSTER = """
profiles:
  h100:
    cpus: 64
    memory_gib: 512
    gpu: {model: H100, count: 8, tdp_w: 700}
  a100:
    cpus: 64
    memory_gib: 512
    gpu: {model: A100, count: 8, tdp_w: 400}
hosts:
  - {name: "h[1-2]", profile: h100}
  - {name: "h[3-4]", profile: h100}
  - {name: "a1", profile: a100}
sites:
  - name: s1
    rooms:
      - name: r1
        racks:
          - {name: rack-1, hosts: "h[1-2]", power_budget_w: %(budget)s}
          - {name: rack-2, hosts: "h[3-4],a1"}
domains:
  - {name: leaf-1, kind: leaf_switch, hosts: "h[1-2]"}
  - {name: leaf-2, kind: leaf_switch, hosts: "h[3-4],a1"}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def plan(tmp_path, jobs_yaml, budget=100000, allocations=None, findings=None, limit=None):
    inv = load_inventory(write(tmp_path, "inv.yaml", CLUSTER % {"budget": budget}))
    jobs = read_jobs(write(tmp_path, "jobs.yaml", jobs_yaml), inv)
    usage = (
        read_allocations(write(tmp_path, "alloc.yaml", allocations), inv) if allocations else None
    )
    hosts = set(inv.select(limit).names) if limit else None
    return plan_placement(build_problem(inv, jobs, usage, findings, hosts), EXACT)


def placed(p):
    return {r.job.name: [(x.host, x.gpus) for x in r.replicas] for r in p.results if r.placed}


def reasons(p):
    return {r.job.name: r.reason for r in p.left_out}


def test_optimum_beats_the_greedy_hint(tmp_path):
    # Two 8-GPU hosts. The greedy takes the biggest gang first (2 × 6 GPUs = 12) and nothing
    # else fits beside it; the optimum is 8 + 4 + 4 = 16 (every GPU busy).
    p = plan(
        tmp_path,
        """
        jobs:
          - {name: gang, replicas: 2, gpus: 6, models: [H100]}
          - {name: eight, gpus: 8, models: [H100]}
          - {name: four-a, gpus: 4, models: [H100]}
          - {name: four-b, gpus: 4, models: [H100]}
        """,
        limit="h[1-2]",
    )
    assert p.greedy_objective == 12
    assert p.solution.status == "OPTIMAL"
    assert p.solution.objective == p.solution.bound == 16
    assert set(placed(p)) == {"eight", "four-a", "four-b"}
    assert reasons(p)["gang"].startswith("capacity: taken by jobs")
    # GPU indices on each host are disjoint and complete.
    used: dict[str, list[int]] = {}
    for where in placed(p).values():
        for host, gpus in where:
            used.setdefault(host, []).extend(gpus)
    assert {h: sorted(g) for h, g in used.items()} == {"h1": list(range(8)), "h2": list(range(8))}


def test_priority_weights_the_objective(tmp_path):
    p = plan(
        tmp_path,
        """
        jobs:
          - {name: low, gpus: 8, models: [A100]}
          - {name: high, gpus: 6, models: [A100], priority: 5}
        """,
    )
    assert set(placed(p)) == {"high"}
    assert p.solution.objective == 30


def test_gang_is_all_or_nothing(tmp_path):
    p = plan(tmp_path, "jobs:\n  - {name: big, replicas: 6, gpus: 8}\n")
    assert placed(p) == {}
    assert reasons(p)["big"] == "capacity: only 5 of 6 replicas fit in the free capacity"
    assert all(r.allocated_after == 0 for r in p.racks)


def test_spread_puts_replicas_in_different_racks(tmp_path):
    p = plan(tmp_path, "jobs:\n  - {name: ha, replicas: 2, gpus: 1, spread: rack}\n")
    hosts = [h for h, _ in placed(p)["ha"]]
    racks = {"h1": "rack-1", "h2": "rack-1", "h3": "rack-2", "h4": "rack-2", "a1": "rack-2"}
    assert len({racks[h] for h in hosts}) == 2
    p = plan(tmp_path, "jobs:\n  - {name: ha, replicas: 3, gpus: 1, spread: rack}\n")
    assert reasons(p)["ha"] == (
        "spread: 3 replicas need 3 different racks, only 2 have eligible hosts"
    )


def test_same_domain_keeps_a_gang_together(tmp_path):
    # Three 8-GPU replicas fit only in leaf-2 (three hosts there, two in leaf-1).
    p = plan(tmp_path, "jobs:\n  - {name: ring, replicas: 3, gpus: 8, same: leaf_switch}\n")
    assert sorted(h for h, _ in placed(p)["ring"]) == ["a1", "h3", "h4"]
    p = plan(
        tmp_path,
        "jobs:\n  - {name: ring, replicas: 3, gpus: 8, same: leaf_switch, models: [H100]}\n",
    )
    assert reasons(p)["ring"] == "same: no single leaf_switch has room for 3 replicas (at most 2)"


def test_model_constraint_and_unknown_model(tmp_path):
    p = plan(tmp_path, "jobs:\n  - {name: a, replicas: 2, gpus: 4, models: [A100]}\n")
    assert [h for h, _ in placed(p)["a"]] == ["a1", "a1"]
    with pytest.raises(JobsFileError) as err:
        plan(tmp_path, "jobs:\n  - {name: a, gpus: 1, models: [A10O]}\n")
    assert "jobs.yaml:2:" in str(err.value.diagnostics[0])
    assert "no profile has GPU model 'A10O'" in str(err.value.diagnostics[0])


def test_shares_pack_onto_one_gpu(tmp_path):
    p = plan(
        tmp_path,
        """
        jobs:
          - {name: n1, gpus: 0.25}
          - {name: n2, gpus: 0.25}
          - {name: n3, gpus: 0.5}
          - {name: n4, gpus: 0.5}
        """,
        limit="a1",
    )
    where = placed(p)
    assert len(where) == 4
    gpus = {g for replicas in where.values() for _, g in replicas}
    assert len(gpus) == 2  # 0.25 + 0.25 + 0.5 on one GPU, 0.5 on another at most
    assert p.solution.fragmentation <= 3  # host broken into + ≤ 2 GPUs opened


def test_cpu_and_memory_bind(tmp_path):
    p = plan(tmp_path, "jobs:\n  - {name: c, replicas: 3, gpus: 1, cpus: 40}\n", limit="h[1-2]")
    assert reasons(p)["c"] == "capacity: only 2 of 3 replicas fit in the free capacity"
    p = plan(tmp_path, "jobs:\n  - {name: m, gpus: 1, memory_gib: 600}\n")
    assert reasons(p)["m"] == "capacity: no eligible host has 600 GiB free"


def test_allocations_and_findings_are_respected(tmp_path):
    alloc = """
    allocations:
      - {host: h1, gpus: [0, 1, 2, 3, 4, 5, 6, 7]}
      - {host: h2, gpus: [0, 1, 2, 3], share: {4: 0.5}, cpus: 8}
    """
    p = plan(
        tmp_path,
        "jobs:\n  - {name: x, gpus: 4, models: [H100], avoid_findings: true}\n",
        allocations=alloc,
        findings={"h3": ("gpu: Xid 79",), "h4": ("gpu: ECC off",)},
    )
    assert reasons(p)["x"] == "capacity: no eligible host has 4 free GPUs (most: 3)"
    p = plan(
        tmp_path,
        "jobs:\n  - {name: x, gpus: 4, models: [H100], avoid_findings: true}\n",
        allocations=alloc,
        findings={"h3": ("gpu: Xid 79",)},
    )
    assert placed(p)["x"] == [("h4", (0, 1, 2, 3))]
    p = plan(
        tmp_path,
        "jobs:\n  - {name: x, gpus: 1, avoid_findings: true}\n",
        findings={h: ("bad",) for h in ("h1", "h2", "h3", "h4", "a1")},
    )
    assert reasons(p)["x"] == "avoid_findings: every eligible host has probe findings"


def test_rack_power_budget_limits_gpus(tmp_path):
    # rack-1 has 3,000 W: four H100s at 700 W TDP = 2,800 W fit, five do not.
    p = plan(tmp_path, "jobs:\n  - {name: p, replicas: 5, gpus: 1, same: rack}\n", budget=3000,
             limit="h[1-2]")  # fmt: skip
    assert reasons(p)["p"].startswith("capacity: taken") or "power" in reasons(p)["p"]
    p = plan(tmp_path, "jobs:\n  - {name: p, replicas: 4, gpus: 1, same: rack}\n", budget=3000,
             limit="h[1-2]")  # fmt: skip
    assert len(placed(p)["p"]) == 4
    assert p.racks[0].power_left_w == pytest.approx(200)
    p = plan(tmp_path, "jobs:\n  - {name: p, gpus: 1}\n", budget=500, limit="h[1-2]")
    assert reasons(p)["p"] == (
        "rack power: a replica needs 700 W, the most any rack has left is 500 W"
    )


def test_identical_jobs_are_aggregated_and_plans_are_deterministic(tmp_path):
    jobs = "jobs:\n" + "".join(f"  - {{name: j{i}, gpus: 1, cpus: 2}}\n" for i in range(30))
    jobs += "  - {name: big, replicas: 2, gpus: 8}\n"
    first = plan_document(plan(tmp_path, jobs))
    second = plan_document(plan(tmp_path, jobs))
    for doc in (first, second):
        doc["solver"].pop("wall_s")
    assert first == second
    # 46 GPUs asked of 40: the gang and 24 single-GPU jobs fill every GPU.
    assert first["solver"]["objective"] == 40
    assert sum(j["placed"] for j in first["jobs"]) == 25
    from dcctl.planning.placement.problem import make_units

    inv = load_inventory(tmp_path / "inv.yaml")
    problem = build_problem(inv, read_jobs(tmp_path / "jobs.yaml", inv))
    assert len(make_units(problem)) == 2


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ("jobs:\n  - {name: a, gpus: 1.5}\n", "jobs.yaml:2:21: jobs[0].gpus: use a whole number"),
        ("jobs:\n  - {name: a, same: row}\n", "jobs[0].same: unknown rack or domain kind 'row'"),
        ("jobs:\n  - {name: a}\n  - {name: a}\n", "jobs[1].name: job 'a' is already defined"),
        ("jobs:\n  - {name: a, replicas: 0}\n", "jobs[0].replicas: must be at least 1"),
        (
            "jobs:\n  - {name: a, gpu: 1}\n",
            "jobs[0].gpu: unknown field 'gpu' (did you mean 'gpus'?)",
        ),
    ],
)
def test_bad_jobs_files_name_file_line_and_field(tmp_path, jobs, message):
    inv = load_inventory(write(tmp_path, "inv.yaml", CLUSTER % {"budget": 1000}))
    with pytest.raises(JobsFileError) as err:
        read_jobs(write(tmp_path, "jobs.yaml", jobs), inv)
    text = "\n".join(str(d) for d in err.value.diagnostics)
    assert message in text


def test_bad_allocations(tmp_path):
    inv = load_inventory(write(tmp_path, "inv.yaml", CLUSTER % {"budget": 1000}))
    bad = "allocations:\n  - {host: h9, gpus: [0]}\n  - {host: h1, gpus: [8]}\n"
    with pytest.raises(AllocationsFileError) as err:
        read_allocations(write(tmp_path, "a.yaml", bad), inv)
    text = "\n".join(str(d) for d in err.value.diagnostics)
    assert "a.yaml:2:" in text and "unknown host 'h9'" in text
    assert "a.yaml:3:" in text and "GPU 8 does not exist" in text
    with pytest.raises(InputError):
        read_jobs(write(tmp_path, "empty.yaml", "jobs: []\n"), inv)


def test_cli_plan_place(tmp_path):
    jobs = write(
        tmp_path,
        "jobs.yaml",
        """
        jobs:
          - {name: pretrain, replicas: 2, gpus: 8, same: leaf_switch, priority: 10}
          - {name: notebook, gpus: 0.25, cpus: 4}
          - {name: huge, gpus: 16}
        """,
    )
    runner = CliRunner()
    result = runner.invoke(app, ["-i", str(EXAMPLE), "plan", "place", str(jobs)])
    assert result.exit_code == ExitCode.FINDINGS, result.output
    assert "pretrain" in result.output and "huge" in result.output
    assert "no eligible host has 16 free GPUs" in result.output
    result = runner.invoke(app, ["-i", str(EXAMPLE), "-o", "json", "plan", "place", str(jobs)])
    doc = json.loads(result.output)
    assert doc["solver"]["status"] == "OPTIMAL"
    assert {j["name"]: j["placed"] for j in doc["jobs"]} == {
        "pretrain": True, "notebook": True, "huge": False,
    }  # fmt: skip
    pre = next(j for j in doc["jobs"] if j["name"] == "pretrain")
    leaf = {h: "a1" if int(h[3:]) <= 8 else "a2" for h in (r["host"] for r in pre["replicas"])}
    assert len(set(leaf.values())) == 1
    assert doc["solver"]["node_classes"] is None  # a small fleet: host by host
    args = ["-i", str(EXAMPLE), "-o", "json", "plan", "place", str(jobs), "--node-classes"]
    by_class = json.loads(runner.invoke(app, args).output)
    assert by_class["solver"]["node_classes"] >= 1
    assert {j["name"]: j["placed"] for j in by_class["jobs"]} == {
        j["name"]: j["placed"] for j in doc["jobs"]
    }
    bad = write(tmp_path, "bad.yaml", "jobs:\n  - {name: a, gpus: 2.5}\n")
    result = runner.invoke(app, ["-i", str(EXAMPLE), "plan", "place", str(bad)])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "bad.yaml:2:21" in result.output and "Traceback" not in result.output


def test_gpu_ranges_fold():
    from dcctl.render.placement import gpu_ranges

    assert gpu_ranges((0, 1, 2, 3, 6)) == "0-3,6"
    assert gpu_ranges((7, 1, 3, 4)) == "1,3-4,7"
    assert gpu_ranges(()) == ""


def test_allocations_from_probe_output(tmp_path):
    # A real probe document (the H100 capture), made into gpu001 with 8 GPUs: a compute process
    # on GPU 2, 30 GiB of memory in use on GPU 5 (a process nvidia-smi cannot see).
    runner = CliRunner()
    bundle = ROOT / "tests" / "fixtures" / "h100-idle"
    out = runner.invoke(
        app, ["-i", str(EXAMPLE), "-o", "json", "probe", "--from-bundle", str(bundle)]
    )
    (doc,) = json.loads(out.stdout)["hosts"]
    real = doc["results"]["gpu"]["gpus"][0]
    doc["host"] = "gpu001"
    doc["results"]["gpu"]["gpus"] = [
        dict(
            real,
            index=i,
            uuid=f"GPU-{i}",
            memory_used_mib=30720 if i == 5 else real["memory_used_mib"],
        )
        for i in range(8)
    ]
    doc["results"]["gpu"]["processes"] = [
        {"pid": 4242, "name": "python", "used_memory_mib": 512, "gpu_uuid": "GPU-2"}
    ]
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps([doc]))
    jobs = write(
        tmp_path, "jobs.yaml", "jobs:\n  - {name: six, gpus: 6}\n  - {name: eight, gpus: 8}\n"
    )
    args = ["-i", str(EXAMPLE), "-o", "json", "plan", "place", str(jobs), "--limit", "gpu001",
            "--allocations-from-probe", str(probe)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.FINDINGS, result.output
    plan_doc = json.loads(result.stdout)
    by_name = {j["name"]: j for j in plan_doc["jobs"]}
    assert by_name["six"]["placed"]
    assert sorted(by_name["six"]["replicas"][0]["gpus"]) == [0, 1, 3, 4, 6, 7]
    assert not by_name["eight"]["placed"]
    assert "most: 6" in by_name["eight"]["reason"]
    # A host the inventory does not have: a clear error, no traceback.
    doc["host"] = "gpu999"
    probe.write_text(json.dumps([doc]))
    result = runner.invoke(app, args)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "host 'gpu999' is not in the inventory" in result.output
    assert "Traceback" not in result.output
