"""Online placement: the fragmentation measure by hand, its cache against fresh computation,
the placer's invariants, and the openb benchmark harness on a sample of the trace."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dcctl.planning.gpu_state import GpuClusterState, NodeSpec, Shape
from dcctl.planning.sharing.fragmentation import Fragmentation, FragmentationScorer, typical_shapes
from dcctl.planning.sharing.online import FragmentationPlacer, batch_order

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "openb-mini"
sys.path.insert(0, str(ROOT / "benchmarks"))

import openb  # noqa: E402

WHOLE = Shape(cpu_milli=8000, memory_mib=0, gpus=1, milli=1000)
SHARE = Shape(cpu_milli=1000, memory_mib=0, gpus=1, milli=600)


def two_gpu_node(cpu=16000):
    return GpuClusterState([NodeSpec("n", cpu, 1 << 20, 2, "T4")])


def test_fragmentation_by_hand():
    state = two_gpu_node()
    measure = Fragmentation.build(state, [(WHOLE, 0.5), (SHARE, 0.5)])
    state.place(0, Shape(0, 0, 1, 500), [1])  # GPUs now [1000, 500]
    # Both shapes fit; for each, the 500 left on GPU 1 is too small: 0.5·500 + 0.5·500.
    assert measure.of(state.cpu, state.mem, state.model, state.gpu)[0] == 500
    state.place(0, Shape(10000, 0, 0, 0), [])  # 6 CPUs left: the whole-GPU shape needs 8
    # WHOLE no longer fits at all: all 1,500 free milli count for it.
    assert measure.of(state.cpu, state.mem, state.model, state.gpu)[0] == 0.5 * 1500 + 0.5 * 500
    # A model the shape may not use counts as not fitting.
    only_a100 = Shape(0, 0, 1, 1000, frozenset({"A100"}))
    other = Fragmentation.build(state, [(only_a100, 1.0)])
    assert other.of(state.cpu, state.mem, state.model, state.gpu)[0] == 1500


def test_typical_shapes_cover_the_most_frequent():
    shapes = [WHOLE] * 90 + [SHARE] * 6 + [Shape(0, 0, 0, 0)] * 50 + [Shape(1, 1, 8, 1000)] * 4
    typical = typical_shapes(shapes)
    assert [s for s, _ in typical] == [WHOLE, SHARE]
    assert sum(w for _, w in typical) == 1


def test_share_goes_where_it_strands_least():
    state = two_gpu_node()
    measure = Fragmentation.build(state, [(WHOLE, 0.5), (SHARE, 0.5)])
    placer = FragmentationPlacer(state, measure)
    first = placer.place(Shape(0, 0, 1, 400))
    second = placer.place(Shape(0, 0, 1, 400))
    # Both shares on one GPU keep the other GPU whole for the whole-GPU shape.
    assert first is not None and second is not None and first.gpus == second.gpus


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([100, 250, 500, 1000, 2000])),
                min_size=1, max_size=40))  # fmt: skip
def test_cached_deltas_match_a_fresh_scorer(ops):
    nodes = [NodeSpec(f"n{i}", 32000, 1 << 20, 4 if i % 2 else 8, "A" if i < 2 else "B")
             for i in range(4)]  # fmt: skip
    state = GpuClusterState(nodes)
    shapes = [Shape(2000, 0, 1, 500), Shape(4000, 0, 1, 1000), Shape(8000, 0, 2, 1000)]
    measure = Fragmentation.build(state, [(s, 1 / 3) for s in shapes])
    placer = FragmentationPlacer(state, measure)
    for _, size in ops:
        shape = Shape(1000, 0, 1, size) if size < 1000 else Shape(1000, 0, size // 1000, 1000)
        fits = state.fits(shape)
        placement = placer.place(shape)
        assert (placement is None) == (not fits.any())  # whatever fits is placed
        rows = np.flatnonzero(state.fits(shapes[0]))
        if len(rows):
            cached, _ = placer.scorer.delta(shapes[0], rows)
            fresh, _ = FragmentationScorer(state, measure).delta(shapes[0], rows)
            assert np.allclose(cached, fresh)
    assert (state.cpu >= 0).all()
    real = state.gpu_total >= 0
    assert (state.gpu[real] >= 0).all() and (state.gpu[~real] == -1).all()


def test_batch_order_puts_shares_first_then_arrival_order():
    shapes = [WHOLE, SHARE, Shape(0, 0, 8, 1000), SHARE, Shape(0, 0, 0, 0)]
    assert batch_order(shapes) == [1, 3, 0, 2, 4]


def test_openb_protocol_and_harness_on_a_sample(capsys):
    nodes = openb.read_nodes(MINI)
    pods = openb.read_pods(MINI, "default")
    capacity = sum(n.gpus for n in nodes) * 1000
    stream = openb.arrivals(pods, capacity, 42)
    total = sum(p.gpu_milli for p in stream)
    assert total >= 1.3 * capacity and total - stream[-1].gpu_milli < 1.3 * capacity
    assert openb.arrivals(pods, capacity, 42) == stream != openb.arrivals(pods, capacity, 43)
    lines: list[str] = []
    summary = openb.main(["--data", str(MINI), "--seeds", "42-43", "--policy", "bestfit"],
                         emit=lines.append)  # fmt: skip
    assert json.loads(lines[-1]) == summary
    assert summary["seeds"] == 2 and summary["bestfit_130_mean"] is not None
    assert 0 < summary["alloc_100_mean"] <= summary["alloc_130_mean"] <= 100
    for policy in ("dcctl", "random", "fgd"):
        result = openb.run_seed(nodes, pods, 42, policy, "online", 16)
        assert result.placed + result.failed == len(stream)
        assert 0 < result.alloc_130 <= 100


def test_offline_plan_on_a_sample_is_valid_and_within_its_bound():
    from dcctl.planning.sharing.offline import pack_order, plan_offline
    from dcctl.planning.solver_options import SolverOptions

    nodes = openb.read_nodes(MINI)
    pods = openb.read_pods(MINI, "default")
    capacity = sum(n.gpus for n in nodes) * 1000
    stream = openb.arrivals(pods, capacity, 42)
    plan = plan_offline(nodes, stream, typical_shapes(pods), SolverOptions(time_limit_s=2))
    assert len(plan.placements) == len(stream)
    # Replaying every placement on an empty cluster must fit (place() raises on an overdraw).
    state = GpuClusterState(nodes)
    for shape, placement in zip(stream, plan.placements, strict=True):
        if placement is not None:
            state.place(placement.node, shape, placement.gpus)
    allocated = sum(s.gpu_milli for s, p in zip(stream, plan.placements, strict=True) if p)
    assert allocated == state.gpu_allocated_milli
    assert 0 < allocated <= plan.bound_milli <= capacity
    assert allocated == plan.allocated_milli[plan.packing] == max(plan.allocated_milli.values())
    assert plan.chosen_milli <= plan.bound_milli
    # Every request that fits somewhere after the packing was offered: none is left that fits.
    for shape, placement in zip(stream, plan.placements, strict=True):
        if placement is None:
            assert not state.fits(shape).any()
    order = pack_order(stream, plan.chosen)
    shares = [i for i in order if i in plan.chosen and stream[i].is_share]
    assert order[: len(shares)] == shares
    assert [stream[i].milli for i in shares] == sorted(
        (stream[i].milli for i in shares), reverse=True
    )
    result = openb.run_seed(nodes, pods, 42, "dcctl", "offline", 64, time_limit=2)
    assert result.bound_130 is not None and result.alloc_130 <= result.bound_130


def test_a_big_enough_batch_is_its_own_fragmentation_workload():
    # GPU 1 already holds 400 of 1000. Against the usual workload (whole GPUs) a 500 share
    # belongs on GPU 1, keeping GPU 0 whole; against a batch of 500 shares it belongs on GPU 0,
    # which leaves room for another 500 on each GPU instead of a useless 100 on GPU 1.
    from dcctl.planning.sharing.online import BATCH_MEASURE_MIN

    half = Shape(cpu_milli=100, memory_mib=0, gpus=1, milli=500)
    first_gpu = {}
    for size in (BATCH_MEASURE_MIN - 1, BATCH_MEASURE_MIN):
        state = two_gpu_node(cpu=64000)
        state.place(0, Shape(cpu_milli=0, memory_mib=0, gpus=1, milli=400), (1,))
        placer = FragmentationPlacer(state, Fragmentation.build(state, [(WHOLE, 1.0)]), size)
        first_gpu[size] = placer.place_batch([half] * size)[0].gpus
    assert first_gpu == {BATCH_MEASURE_MIN - 1: (1,), BATCH_MEASURE_MIN: (0,)}
