"""Capacity sizing: the arithmetic against published runs and serving configurations, the
workloads file's errors, the fit against a site (free GPUs, power budgets), the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcctl.cli import app
from dcctl.errors import WorkloadsFileError
from dcctl.inventory.loader import load_inventory
from dcctl.planning.capacity.arithmetic import (
    Parallelism,
    Shape,
    activation_bytes,
    allreduce_seconds,
    kv_bytes_per_token,
    model_state_bytes,
    training_flops,
)
from dcctl.planning.capacity.fit import CapacityOptions, fit_workload
from dcctl.planning.capacity.gpu_specs import GPU_MODELS, find_model
from dcctl.planning.capacity.report import parse_sweep, plan_capacity
from dcctl.planning.capacity.sizing import size_inference, size_training
from dcctl.planning.capacity.workloads import Inference, Training, read_workloads

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "inventory" / "example.yaml"
WORKLOADS = ROOT / "workloads" / "example-training.yaml"

# Published training runs (docs/capacity.md has the sources): what was reported, and the
# utilisation reported with it (MFU, or measured TFLOP/s per GPU, or tokens/s per GPU).
# (name, GPU, params, tokens, GPUs, how utilisation was reported, published GPU-hours or days)
RUNS = [
    # LLaMA (Touvron et al. 2023): 2048 A100-80GB; 380 tokens/s/GPU on 65B; Table 15 GPU-hours.
    ("LLaMA-65B", "A100", 65.2e9, 1.4e12, 2048, {"tokens_per_gpu_s": 380}, {"gpu_hours": 1022362}),
    ("LLaMA-33B", "A100", 32.5e9, 1.4e12, 2048, {"tokens_per_gpu_s": 380, "from": 65.2e9},
     {"gpu_hours": 530432}),
    ("LLaMA-13B", "A100", 13.0e9, 1.0e12, 2048, {"tokens_per_gpu_s": 380, "from": 65.2e9},
     {"gpu_hours": 135168}),
    ("LLaMA-7B", "A100", 6.7e9, 1.0e12, 2048, {"tokens_per_gpu_s": 380, "from": 65.2e9},
     {"gpu_hours": 82432}),
    # Narayanan et al. 2021 (Megatron-LM, SC21), §5.1: with full recomputation.
    ("GPT-3 175B est.", "A100", 175e9, 300e9, 1024, {"tflops": 140, "recompute": "full"},
     {"days": 34}),
    ("GPT 1T est.", "A100", 1e12, 450e9, 3072, {"tflops": 163, "recompute": "full"},
     {"days": 84}),
    # Llama 3 (Dubey et al. 2024): 16,384 H100; 400 TFLOP/s per GPU (Table 4, 8K sequences);
    # Llama 3.1 405B model card: 30.84M GPU-hours; paper: 3.8e25 FLOPs.
    ("Llama-3.1-405B", "H100", 405e9, 15.6e12, 16384, {"tflops": 400},
     {"gpu_hours": 30.84e6, "flops": 3.8e25}),
    # GPT-3 (Brown et al. 2020), Table D.1: 3.14e23 FLOPs (V100; no utilisation published).
    ("GPT-3 175B", "V100", 175e9, 300e9, 1024, {}, {"flops": 3.14e23}),
]  # fmt: skip


def training_for(run, use_published=True):
    name, gpu, params, tokens, gpus, util, _ = run
    kwargs = {}
    if use_published and "tflops" in util:
        kwargs["achieved_tflops"] = util["tflops"]
        if util.get("recompute") == "full":
            kwargs["parallelism"] = Parallelism(8, 8, 0, "full")
    elif use_published and "tokens_per_gpu_s" in util:
        # The reported rate of the paper's largest model, as an MFU on this hardware.
        flops_per_token = 6 * util.get("from", params)
        kwargs["mfu"] = flops_per_token * util["tokens_per_gpu_s"] / GPU_MODELS[gpu].peak("bf16")
    return Training(name, params, tokens, **kwargs), GPU_MODELS[gpu], gpus


@pytest.mark.parametrize("run", RUNS, ids=[r[0] for r in RUNS])
def test_published_runs_within_15_percent_with_their_published_utilisation(run):
    workload, gpu, gpus = training_for(run)
    size = size_training(workload, gpu, gpus, 8, 3200)
    published = run[6]
    if "flops" in published:
        assert size.flops == pytest.approx(published["flops"], rel=0.15)
    if "gpu_hours" in published:
        assert size.gpu_hours == pytest.approx(published["gpu_hours"], rel=0.15)
    if "days" in published:
        assert size.days == pytest.approx(published["days"], rel=0.15)


def test_published_runs_and_generations_covered():
    timed = [r for r in RUNS if "gpu_hours" in r[6] or "days" in r[6]]
    assert len(timed) >= 6
    assert len({r[1] for r in RUNS}) >= 2 and len({r[1] for r in timed}) >= 2


@pytest.mark.parametrize(
    "run", [r for r in RUNS if "gpu_hours" in r[6] and r[1] != "V100"], ids=lambda r: r[0]
)
def test_default_mfu_stays_within_25_percent(run):
    workload, gpu, gpus = training_for(run, use_published=False)
    size = size_training(workload, gpu, gpus, 8, 3200)
    assert size.gpu_hours == pytest.approx(run[6]["gpu_hours"], rel=0.25)


LLAMA2_70B = Shape(layers=80, hidden=8192, heads=64, kv_heads=8)
LLAMA31_405B = Shape(layers=126, hidden=16384, heads=128, kv_heads=8)
DEEPSEEK_V3 = Shape(layers=61, hidden=7168, heads=128, kv_heads=128)


@pytest.mark.parametrize(
    ("name", "params", "precision", "shape", "gpu", "smallest"),
    [
        # Meta: Llama 3.1 405B in FP8 serves on one node of 8 H100-80GB; BF16 needs two.
        ("405B fp8", 405e9, "fp8", LLAMA31_405B, "H100", 8),
        ("405B bf16", 405e9, "bf16", LLAMA31_405B, "H100", 16),
        # Llama 2 70B in 16 bits: two 80 GB GPUs (Hugging Face TGI / Llama 2 docs).
        ("70B bf16", 70e9, "bf16", LLAMA2_70B, "A100", 2),
        # Mixtral 8x7B (46.7B parameters) in 16 bits: two 80 GB GPUs (Mistral's guidance).
        ("Mixtral bf16", 46.7e9, "bf16", None, "H100", 2),
        # DeepSeek-V3 (671B, FP8): one node of 8 H200, or two nodes of 8 H100 (SGLang docs).
        ("DeepSeek-V3 H200", 671e9, "fp8", DEEPSEEK_V3, "H200", 8),
        ("DeepSeek-V3 H100", 671e9, "fp8", DEEPSEEK_V3, "H100", 16),
    ],
)
def test_smallest_serving_configuration_matches_published(
    name, params, precision, shape, gpu, smallest
):
    size = size_inference(
        Inference(name, params, precision, context=4096, concurrent=1, shape=shape),
        GPU_MODELS[gpu],
    )
    assert size.gpus_per_replica == smallest
    assert size.min_gpus_for_weights == smallest


def test_formulas_by_hand():
    # 16 bytes per parameter for mixed-precision Adam with no sharding (ZeRO §3.1).
    assert model_state_bytes(1e9, Parallelism(1, 1, 0), 8, "adam") == 16e9
    # ZeRO-1 shards the 12 optimizer bytes over data parallel, ZeRO-3 everything.
    assert model_state_bytes(1e9, Parallelism(1, 1, 1), 8, "adam") == 1e9 * (4 + 12 / 8)
    assert model_state_bytes(1e9, Parallelism(1, 1, 3), 8, "adam") == 16e9 / 8
    assert model_state_bytes(8e9, Parallelism(8, 1, 0), 8, "adam") == 16e9
    # Korthikanti et al. 2022: selective recomputation 34·s·b·h/t per layer.
    shape = Shape(2, 4096, 32, 32)
    assert activation_bytes(shape, 2048, Parallelism(1, 1, 1, "selective")) == 2 * 34 * 2048 * 4096
    assert activation_bytes(shape, 2048, Parallelism(1, 1, 1, "full")) == 2 * 2 * 2048 * 4096
    # Ring all-reduce: 2·(p−1)/p of the gradient at the link rate.
    assert allreduce_seconds(1e9, Parallelism(), 4, 1e9) == pytest.approx(2 * 0.75 * 2e9 / 1e9)
    # KV cache of Llama 2 70B: 2 × 80 layers × 8 KV heads × 128 × 2 bytes = 327,680 B per token.
    assert kv_bytes_per_token(LLAMA2_70B, "bf16") == 327_680
    # 6·N·D, plus 6·L·s·d·D for attention (Kaplan et al. 2020).
    assert training_flops(1e9, 1e12, None, None) == 6e21
    assert training_flops(1e9, 1e12, shape, 2048) == 6e21 + 6 * 2 * 2048 * 4096 * 1e12


def test_gpu_models_are_found_in_profile_names():
    assert find_model("NVIDIA H100 80GB HBM3").name == "H100"
    assert find_model("NVIDIA A100-SXM4-40GB").memory_gb == 40
    assert find_model("NVIDIA H200").memory_gb == 141
    assert find_model("Tesla T4") is None


def write(tmp_path, text, name="w.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("  - {name: a, kind: training, params: 8X, tokens: 1T}\n",
         "workloads[0].params: expected a number such as 8B or 1.4e12, got '8X'"),
        ("  - {name: a, kind: training, params: 8B}\n",
         "workloads[0]: a training workload needs tokens"),
        ("  - {name: a, kind: training, params: 8B, tokens: 1T, gpus: 8, wall_days: 3}\n",
         "workloads[0].wall_days: give one of gpus, wall_days or gpu_hours"),
        ("  - {name: a, kind: inference, params: 8B, tokens: 1T}\n",
         "workloads[0].tokens: not a field of a inference workload"),
        ("  - {name: a, kind: training, params: 8B, tokens: 1T, layers: 32}\n",
         "a model shape needs layers, hidden and heads"),
        ("  - {name: a, kind: trainig, params: 8B}\n", "did you mean 'training'?"),
        ("  - {name: a, kind: training, params: 8B, tokens: 1T, gpu_model: H1000}\n",
         "workloads[0].gpu_model: must be one of"),
        ("  - {name: a, kind: training, params: 8B, tokens: 1T, active_params: 9B}\n",
         "workloads[0].active_params: cannot exceed params"),
        ("  - {name: a, kind: training, params: -3, tokens: 1T}\n", "must be greater than 0"),
    ],
)  # fmt: skip
def test_bad_workloads_name_file_line_and_field(tmp_path, body, message):
    path = write(tmp_path, "workloads:\n" + body)
    with pytest.raises(WorkloadsFileError) as err:
        read_workloads(path)
    text = "\n".join(str(d) for d in err.value.diagnostics)
    assert message in text and f"{path}:2:" in text


def test_example_fits_the_example_site_and_says_what_does_not():
    inventory = load_inventory(EXAMPLE)
    plan = plan_capacity(inventory, read_workloads(WORKLOADS), CapacityOptions())
    small, big, service = plan.workloads
    assert small.ok and small.best.gpus % 8 == 0 and small.best.gpus <= 128
    assert (small.best.seconds or 0) / 86400 <= 14  # the GPUs it picked finish in time
    assert not big.ok and "2,032 more nodes of 8" in big.best.problems[0]
    assert (
        service.ok and service.best.size.decode_tokens_per_s * service.best.size.replicas >= 20000
    )


def test_power_budgets_cap_the_gpus_and_slow_the_run(tmp_path):
    site = write(tmp_path, """\
        profiles:
          h8:
            baseline_w: 2000
            gpu: {model: NVIDIA H100 80GB HBM3, count: 8, memory_gib: 80, tdp_w: 700,
                  power_limit_w: {min: 200, default: 700, max: 700}}
        hosts: [{name: 'n[1-4]', profile: h8}]
        sites:
          - name: s
            feeds: [{name: f, voltage: 415, amps: 125, phase: three}]
            rooms:
              - name: h
                racks:
                  - {name: r1, hosts: 'n[1-4]', power_budget_w: 22000,
                     pdus: [{name: p1, feed: f, hosts: 'n[1-4]'}]}
        """, "site.yaml")  # fmt: skip
    inventory = load_inventory(site)
    workload = Training("t", 1e9, 1e11, gpus=32)
    (fit,) = fit_workload(inventory, workload, CapacityOptions())
    # 4 × 2 kW baseline + 32 GPUs must fit in 22 kW: 437.5 W per GPU at most.
    assert fit.fits and fit.gpu_watts <= 437.5 + 1e-6
    assert 0.5 < fit.throughput < 1.0
    assert fit.seconds == pytest.approx(fit.size.seconds / fit.throughput)
    tight = site.read_text().replace("power_budget_w: 22000", "power_budget_w: 12000")
    site.write_text(tight)
    (fit,) = fit_workload(load_inventory(site), workload, CapacityOptions())
    assert not fit.fits and "power budgets cannot carry it" in fit.problems[0]


def test_sweep_and_cli(tmp_path):
    assert parse_sweep("gpus=1024..16384") == [1024, 2048, 4096, 8192, 16384]
    assert parse_sweep("gpus=8..24") == [8, 16, 24]
    runner = CliRunner()
    args = ["-i", str(EXAMPLE), "plan", "capacity", str(WORKLOADS)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1  # llama-405b does not fit this site
    assert result.output.startswith("llama-8b-1t: 8.03B params, 1T tokens on H100:")
    small = write(tmp_path, "workloads:\n  - {name: s, kind: training, params: 1B, tokens: 20B}\n")
    result = runner.invoke(app, ["-i", str(EXAMPLE), "-o", "json", "plan", "capacity", str(small),
                                 "--sweep", "gpus=8..32"])  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "dcctl.plan.capacity/1" and doc["ok"]
    rows = doc["workloads"][0]["sweep"]
    assert [r["gpus"] for r in rows] == [8, 16, 32]
    assert rows[0]["days"] > rows[1]["days"] > rows[2]["days"]
    bad = runner.invoke(app, ["-i", str(EXAMPLE), "plan", "capacity", str(small), "--sweep", "x"])
    assert bad.exit_code == 64 and "--sweep" in bad.output
