"""Power plans: hand-computed optima, infeasibility and shedding, derating, a property that no
plan ever exceeds a budget, determinism, fairness, class maps and the CLI."""

from __future__ import annotations

import json
import math
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import ClassMapError, ExitCode, InventoryError, PlanError
from dcctl.inventory.loader import load_inventory
from dcctl.planning.power.class_map import read_class_map
from dcctl.planning.power.plan import plan_power
from dcctl.planning.power.problem import Assignment, PowerRequest, cap_levels
from dcctl.planning.power.workloads import BUILTIN, WorkloadClass
from dcctl.planning.solver_options import SolverOptions

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example.yaml"
ONE = SolverOptions(time_limit_s=10, workers=1, seed=0, relative_gap=0.0)


def inventory(tmp_path, text):
    path = tmp_path / "inv.yaml"
    path.write_text(textwrap.dedent(text))
    return load_inventory(path)


TWO_HOSTS = """
profiles:
  g1:
    baseline_w: 0
    gpu: {model: X, count: 1, tdp_w: 300, power_limit_w: {min: 100, default: 300, max: 300}}
hosts: [{name: "a", profile: g1}, {name: "b", profile: g1}]
sites:
  - name: s
    rooms: [{name: h, racks: [{name: r1, hosts: "a,b", power_budget_w: BUDGET}]}]
"""


def training(fraction):
    return BUILTIN["training"].throughput(fraction)


def test_training_curve_matches_its_source():
    assert training(0.7) == pytest.approx(0.94)
    assert training(0.5) == pytest.approx(0.85)
    assert training(1.0) == 1.0
    assert training(0.25) == pytest.approx(0.425)  # proportional below the measured range


def test_hand_computed_optimum_splits_evenly(tmp_path):
    inv = inventory(tmp_path, TWO_HOSTS.replace("BUDGET", "450"))
    plan = plan_power(inv, PowerRequest(BUILTIN, {}, step_w=100), ONE)
    # (300, 100) gives 1 + 0.567 = 1.567; (200, 200) gives 2 × 0.925 = 1.85; (300, 200) is 500 W.
    assert plan.status == "OPTIMAL"
    assert sorted(plan.caps.values()) == [200.0, 200.0]
    assert plan.throughput == pytest.approx(2 * training(2 / 3))
    assert plan.objective == pytest.approx(1.85, abs=1e-3)
    assert plan.gap == 0 and plan.lp_bound >= plan.objective - 1e-6


def test_priority_does_not_beat_concavity_here(tmp_path):
    inv = inventory(tmp_path, TWO_HOSTS.replace("BUDGET", "400"))
    plan = plan_power(
        inv,
        PowerRequest(
            BUILTIN, {"a": Assignment("training", 3), "b": Assignment("training", 1)}, step_w=100
        ),
        ONE,
    )
    # (300, 100): 3 × 1 + 0.567 = 3.567; (200, 200): 4 × 0.925 = 3.7; (100, 300): 2.7.
    assert plan.caps[("a", 0)] == 200 and plan.caps[("b", 0)] == 200
    assert plan.objective == pytest.approx(3.7, abs=1e-3)


def test_infeasible_budget_names_the_tightest_and_what_to_shed(tmp_path):
    inv = inventory(tmp_path, TWO_HOSTS.replace("BUDGET", "150"))
    plan = plan_power(inv, PowerRequest(BUILTIN, {}), ONE)
    assert plan.status == "INFEASIBLE" and not plan.caps
    assert plan.tightest == "rack:r1"
    assert [(s.rack, round(s.watts), s.because) for s in plan.shed] == [("r1", 50, "rack:r1")]


def test_fairness_raises_the_worst_gpu(tmp_path):
    text = TWO_HOSTS.replace("BUDGET", "400").replace(
        "default: 300, max: 300", "default: 600, max: 600"
    )
    inv = inventory(tmp_path, text)
    # Below half the max limit throughput is linear in the cap: any split of 400 W scores the same.
    fair = plan_power(inv, PowerRequest(BUILTIN, {}, step_w=100, fairness=True), ONE)
    assert sorted(fair.caps.values()) == [200.0, 200.0]


DUAL = """
profiles:
  h:
    baseline_w: 1000
    gpu: {model: X, count: 4, tdp_w: 500, power_limit_w: {min: 200, default: 500, max: 500}}
hosts: [{name: "n[1-4]", profile: h}]
sites:
  - name: s
    feeds:
      - {name: fa, voltage: 230, amps: 32, phase: single, max_utilization: 100}
      - {name: fb, voltage: 230, amps: 32, phase: single, max_utilization: 100}
    rooms:
      - name: hall
        racks:
          - name: r
            hosts: "n[1-4]"
            pdus: [{name: pa, feed: fa, hosts: "n[1-4]"}, {name: pb, feed: fb, hosts: "n[1-4]"}]
"""


def test_derated_feed_moves_load_to_the_other(tmp_path):
    inv = inventory(tmp_path, DUAL)
    normal = plan_power(inv, PowerRequest(BUILTIN, {}), ONE)
    assert set(normal.caps.values()) == {500.0}  # 4 × 3 kW = 12 kW over two 7.36 kW feeds
    failed = plan_power(inv, PowerRequest(BUILTIN, {}, derate={"fa": 0.0}), ONE)
    uses = {b.name: b for b in failed.budgets}
    assert set(uses) == {"feed:fb"}  # fa carries nothing, pa is dead
    assert uses["feed:fb"].planned_w <= 230 * 32 + 1e-6
    # 4 kW of baselines leave 3.36 kW for 16 GPUs; from 200 W each, six 25 W steps fit (3350 W).
    assert min(failed.caps.values()) >= 200 and sum(failed.caps.values()) == 3350
    with pytest.raises(PlanError, match="unknown feed 'fc'"):
        plan_power(inv, PowerRequest(BUILTIN, {}, derate={"fc": 0.0}))


def test_both_feeds_down_means_hosts_are_off(tmp_path):
    inv = inventory(tmp_path, DUAL)
    plan = plan_power(inv, PowerRequest(BUILTIN, {}, derate={"fa": 0.0, "fb": 0.0}), ONE)
    assert plan.offline_hosts == ("n1", "n2", "n3", "n4")


def test_floors_keep_a_class_above_its_throughput(tmp_path):
    inv = inventory(tmp_path, TWO_HOSTS.replace("BUDGET", "450"))
    plan = plan_power(
        inv,
        PowerRequest(
            BUILTIN, {"a": Assignment("training", 1)}, floors={"training": 0.99}, step_w=100
        ),
        ONE,
    )
    assert plan.status == "INFEASIBLE"  # two GPUs at 300 W (the only level ≥ 0.99) need 600 W


def test_concavity_is_required():
    with pytest.raises(PlanError, match="concave"):
        WorkloadClass("bad", ((0.0, 0.0), (0.5, 0.2), (1.0, 1.0)))


def test_cap_levels_include_min_default_max():
    assert cap_levels(200, 610, 700, 100) == (200.0, 300.0, 400.0, 500.0, 600.0, 610.0, 700.0)


def test_determinism(tmp_path):
    inv = load_inventory(EXAMPLE)
    options = SolverOptions(time_limit_s=5, workers=4, seed=7)
    a = plan_power(inv, PowerRequest(BUILTIN, {}, headroom=0.1, derate={"feed-a": 0.0}), options)
    b = plan_power(inv, PowerRequest(BUILTIN, {}, headroom=0.1, derate={"feed-a": 0.0}), options)
    assert a.caps == b.caps and a.objective == b.objective


@st.composite
def trees(draw):
    racks = draw(st.integers(1, 3))
    lines = [
        "profiles:",
        "  p: {baseline_w: 300, gpu: {model: X, count: 2, tdp_w: 400,",
        "      power_limit_w: {min: 100, default: 400, max: 400}}}",
        "hosts:",
    ]
    rack_lines = []
    budget_total = 0.0
    n = 0
    for r in range(racks):
        hosts = draw(st.integers(1, 3))
        names = [f"h{n + i}" for i in range(hosts)]
        n += hosts
        lines += [f"  - {{name: {h}, profile: p}}" for h in names]
        budget = draw(st.integers(hosts * 500, hosts * 1100))
        dual = draw(st.booleans())
        pdus = [f"{{name: p{r}a, feed: fa, max_w: {budget}, hosts: '{','.join(names)}'}}"]
        if dual:
            pdus.append(f"{{name: p{r}b, feed: fb, hosts: '{','.join(names)}'}}")
        rack_lines.append(
            f"          - {{name: r{r}, hosts: '{','.join(names)}', power_budget_w: {budget}, "
            f"pdus: [{', '.join(pdus)}]}}"
        )
        budget_total += budget
    amps = draw(st.integers(2, 40))
    lines += [
        "sites:",
        "  - name: s",
        "    feeds:",
        f"      - {{name: fa, voltage: 230, amps: {amps}, max_utilization: 100}}",
        f"      - {{name: fb, voltage: 230, amps: {amps}, max_utilization: 100}}",
        "    rooms:",
        "      - name: hall",
        "        racks:",
        *rack_lines,
    ]
    derate = draw(st.sampled_from([{}, {"fa": 0.5}, {"fb": 0.0}]))
    return "\n".join(lines) + "\n", derate, draw(st.sampled_from([0.0, 0.1]))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(trees())
def test_no_plan_ever_exceeds_a_budget(tmp_path, case):
    text, derate, headroom = case
    path = tmp_path / "inv.yaml"
    path.write_text(text)
    try:
        inv = load_inventory(path)
    except InventoryError:
        return  # the generated tree overloads a feed at nominal draw: not a valid inventory
    plan = plan_power(
        inv,
        PowerRequest(BUILTIN, {}, derate=derate, headroom=headroom),
        SolverOptions(time_limit_s=5, workers=1),
    )
    if not plan.feasible:
        assert plan.shed and plan.tightest
        return
    # Recompute every load from the caps alone, independently of the planner.
    live = {p for p, pdu in inv.pdus.items() if derate.get(pdu.feed, 1.0) > 0}
    draw_of = defaultdict(float)
    for (host, _), cap in plan.caps.items():
        assert 100 <= cap <= 400 and (cap - 100) % 25 == 0
        draw_of[host] += cap
    loads = defaultdict(float)
    for name, host in inv.hosts.items():
        total = draw_of[name] + 300
        alive = [p for p in host.pdus if p in live]
        loads[f"rack:{host.rack}"] += total
        for p in alive:
            loads[f"pdu:{p}"] += total / len(alive)
            loads[f"feed:{inv.pdus[p].feed}"] += total / len(alive)
    for rack in inv.racks.values():
        assert loads[f"rack:{rack.name}"] <= rack.power_budget_w * (1 - headroom) + 1e-6
    for pdu in inv.pdus.values():
        if pdu.name in live:
            assert (
                loads[f"pdu:{pdu.name}"] <= pdu.max_w * (1 - headroom) + 1e-6 if pdu.max_w else True
            )
    for feed in inv.feeds.values():
        limit = feed.available_w * derate.get(feed.name, 1.0) * (1 - headroom)
        assert loads[f"feed:{feed.name}"] <= limit + 1e-6
    assert math.isfinite(plan.objective)


def test_class_map_assigns_classes_and_reports_errors(tmp_path):
    inv = load_inventory(EXAMPLE)
    good = tmp_path / "classes.yaml"
    good.write_text(
        "classes:\n  batch: [[0.0, 0.0], [0.6, 0.9], [1.0, 1.0]]\n"
        "assign:\n  - {hosts: '@canary', class: inference-decode, priority: 3}\n"
        "  - {hosts: '@rack-a1', class: batch}\n"
        "default: {class: idle}\nfloors: {inference-decode: 0.95}\n"
    )
    cmap = read_class_map(good, inv)
    assert cmap.assignments["gpu001"] == Assignment("inference-decode", 3)
    assert cmap.assignments["gpu002"] == Assignment("batch", 1)
    assert cmap.assignments["gpu010"] == Assignment("idle", 1)
    assert cmap.floors == {"inference-decode": 0.95}
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "assign:\n  - {hosts: '@canary', class: trainnig}\n  - {hosts: '@nope', class: idle}\n"
    )
    with pytest.raises(ClassMapError) as info:
        read_class_map(bad, inv)
    assert [str(d) for d in info.value.diagnostics] == [
        f"{bad}:2:31: assign[0].class: unknown class 'trainnig' (did you mean 'training'?)",
        f"{bad}:3:13: assign[1].hosts: unknown group '@nope'",
    ]


def test_cli_plan_power(tmp_path):
    runner = CliRunner()
    playbook = tmp_path / "caps.yaml"
    result = runner.invoke(
        app,
        [
            "-i",
            str(EXAMPLE),
            "plan",
            "power",
            "--headroom",
            "10%",
            "--gap",
            "0",
            "--emit-playbook",
            str(playbook),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "throughput 127.66 of 128.00 GPU-equivalents" in result.stdout
    doc = yaml.safe_load(playbook.read_text())
    assert doc["hosts"] == "gpu[001-016]"
    assert {r["watts"] for r in doc["resources"]} <= {700, 675, 650}
    assert all(r["type"] == "gpu_power_limit" for r in doc["resources"])
    data = json.loads(
        runner.invoke(
            app, ["-i", str(EXAMPLE), "-o", "json", "plan", "power", "--derate", "feed-a=0"]
        ).stdout
    )
    assert data["feasible"] and {b["name"] for b in data["budgets"]} >= {"feed:feed-b"}
    failed = runner.invoke(
        app, ["-i", str(EXAMPLE), "plan", "power", "--derate", "feed-a=0", "--derate", "feed-b=20%"]
    )
    assert failed.exit_code == 1
    assert "rack-a1   38.1 kW     feed:feed-b" in failed.stdout
    bad = runner.invoke(app, ["-i", str(EXAMPLE), "plan", "power", "--derate", "feed-a"])
    assert bad.exit_code == ExitCode.INVALID_INPUT and "write FEED=FRACTION" in bad.stderr


def test_probed_limits_replace_the_profile(tmp_path):
    inv = load_inventory(EXAMPLE)
    gpu = {"min_power_limit_w": 300.0, "default_power_limit_w": 650.0, "max_power_limit_w": 650.0}
    documents = [
        {"host": f"gpu{i:03d}", "results": {"gpu": {"driver_present": True, "gpus": [gpu] * 8}}}
        for i in range(1, 17)
    ]
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(documents))
    result = CliRunner().invoke(
        app, ["-i", str(EXAMPLE), "-o", "json", "plan", "power", "--probe-results", str(path)]
    )
    data = json.loads(result.stdout)
    caps = {c["watts"] for c in data["caps"]}
    assert caps == {650.0}  # 16 × (4.6 + 8 × 0.65) kW = 156.8 kW fits: every GPU at its 650 W max
    assert data["default_throughput"] == pytest.approx(128.0)
    assert inv.hosts["gpu001"].profile == "h100-8x"


def test_limit_counts_unplanned_hosts_at_their_default_limits():
    inv = load_inventory(EXAMPLE)
    rack_a1 = set(inv.select("@rack-a1").names)
    plan = plan_power(inv, PowerRequest(BUILTIN, {}, hosts=frozenset(rack_a1)), ONE)
    assert plan.feasible and {h for h, _ in plan.caps} == rack_a1
    uses = {b.name: b for b in plan.budgets}
    assert uses["rack:rack-a2"].planned_w == pytest.approx(8 * 10200)  # held at defaults
    # With feed A gone, rack-a2 held at its defaults overruns its B PDU (81.6 of 57.5 kW) and,
    # with rack-a1 at its lowest caps, feed B too: no plan; both racks must shed.
    failed = plan_power(
        inv, PowerRequest(BUILTIN, {}, derate={"feed-a": 0.0}, hosts=frozenset(rack_a1)), ONE
    )
    assert not failed.feasible and failed.tightest == "pdu:pdu-a2-b"
    assert [(s.rack, round(s.watts), s.because) for s in failed.shed] == [
        ("rack-a1", 6121, "feed:feed-b"),
        ("rack-a2", 24100, "pdu:pdu-a2-b"),
    ]


def rows_site(rows: int, racks_per_row: int = 3, hosts_per_rack: int = 3) -> str:
    """Rows of racks on feeds of their own: independent parts of the power problem."""
    lines = [
        "profiles:",
        "  g4:",
        "    baseline_w: 800",
        "    gpu: {model: X, count: 4, tdp_w: 700, power_limit_w: {min: 200, default: 700, "
        "max: 700}}",
        f"hosts: [{{name: 'n[001-{rows * racks_per_row * hosts_per_rack:03d}]', profile: g4}}]",
        "sites:",
        "  - name: s",
        "    feeds:",
    ]
    for r in range(rows):
        lines.append(f"      - {{name: f{r}, voltage: 415, amps: 63, phase: three}}")
    lines.append("    rooms:")
    lines.append("      - name: h")
    lines.append("        racks:")
    n = 1
    for r in range(rows):
        for k in range(racks_per_row):
            hosts = f"n[{n:03d}-{n + hosts_per_rack - 1:03d}]"
            n += hosts_per_rack
            lines.append(f"          - name: r{r}-{k}")
            lines.append(f"            hosts: '{hosts}'")
            lines.append("            power_budget_w: 7000")
            lines.append(
                f"            pdus: [{{name: p{r}-{k}, feed: f{r}, max_w: 11000, "
                f"hosts: '{hosts}'}}]"
            )
    return "\n".join(lines) + "\n"


def test_independent_rows_are_solved_apart_with_the_same_optimum(tmp_path):
    from dcctl.planning.power.components import independent_parts
    from dcctl.planning.power.problem import build_power_problem

    inv = inventory(tmp_path, rows_site(4))
    classes = {"a": Assignment("training", 3), "n005": Assignment("inference-decode", 2)}
    request = PowerRequest(BUILTIN, classes)
    problem = build_power_problem(inv, request)
    parts = independent_parts(problem)
    assert len(parts) == 4  # one per row: its feed, PDUs and racks share no budget with another
    assert sorted(g for p in parts for g in p.group_ids) == list(range(len(problem.groups)))
    from dcctl.planning.cpsat.power import solve_power
    from dcctl.planning.power.plan import greedy_counts, solve_by_parts

    whole = solve_power(problem, ONE)  # one model of everything
    split = solve_by_parts(problem, ONE, greedy_counts(problem))
    assert split.objective == pytest.approx(whole.objective, abs=1e-6)
    assert split.objective == pytest.approx(split.bound, abs=1e-6)  # proven optimal by parts
    plan = plan_power(inv, request, ONE)
    assert plan.feasible and all(u.planned_w <= u.budget_w + 1e-6 for u in plan.budgets)


def test_lp_rounding_keeps_every_budget(tmp_path):
    from dcctl.planning.cpsat.power import lp_relaxation, objective_of, round_down
    from dcctl.planning.power.plan import budget_loads
    from dcctl.planning.power.problem import build_power_problem

    problem = build_power_problem(inventory(tmp_path, rows_site(3)), PowerRequest(BUILTIN))
    relaxed = lp_relaxation(problem)
    counts = round_down(problem, relaxed.fractions)
    assert [sum(c) for c in counts] == [g.count for g in problem.groups]
    for budget, load in zip(problem.budgets, budget_loads(problem, counts), strict=True):
        assert load <= budget.limit_w + 1e-6
    assert objective_of(problem, counts) <= relaxed.bound + 1e-9
