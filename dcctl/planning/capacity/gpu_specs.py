"""Published figures of the GPU models capacity sizing knows, each with its source.

Peak throughput is dense (no structured sparsity), per GPU, for the SXM parts. Utilisation
defaults (MFU: model FLOPs / peak) are what published training runs on each generation reached;
a workload may set its own. Sources are listed in docs/capacity.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuModel:
    """One GPU model's published figures."""

    name: str
    tflops: dict[str, float]  # precision → dense peak TFLOP/s
    memory_gb: float  # HBM, decimal GB as NVIDIA quotes it
    bandwidth_tbs: float  # HBM bandwidth, TB/s
    tdp_w: float
    default_mfu: float  # training MFU assumed when a workload gives none
    mfu_source: str

    def peak(self, precision: str) -> float:
        """Peak FLOP/s at a precision (fp32 falls back to tf32 where that is what runs)."""
        return self.tflops[precision] * 1e12


#: Matched against a profile's ``gpu.model`` (longest name first): "NVIDIA H100 80GB HBM3" → H100.
GPU_MODELS: dict[str, GpuModel] = {
    m.name: m
    for m in (
        GpuModel(
            "V100",
            {"fp16": 125, "bf16": 125, "fp32": 15.7},
            32,
            0.9,
            300,
            0.35,
            "Megatron-LM on V100 (Shoeybi et al. 2019): 30-39 % of peak",
        ),
        GpuModel(
            "A100",
            {"fp16": 312, "bf16": 312, "fp32": 156, "int8": 624},
            80,
            2.039,
            400,
            0.45,
            "LLaMA 65B: 380 tokens/s/GPU = 47.6 % (Touvron et al. 2023); "
            "OPT-175B 147 TFLOP/s = 47 %",
        ),
        GpuModel(
            "H100",
            {"fp16": 989, "bf16": 989, "fp8": 1979, "fp32": 494},
            80,
            3.35,
            700,
            0.40,
            "Llama 3 405B: 38-43 % BF16 MFU on 8-16K H100s (Llama 3 paper, Table 4)",
        ),
        GpuModel(
            "H800",
            {"fp16": 989, "bf16": 989, "fp8": 1979, "fp32": 494},
            80,
            3.35,
            700,
            0.40,
            "as H100 (same SXM compute; NVLink bandwidth differs)",
        ),
        GpuModel(
            "H200",
            {"fp16": 989, "bf16": 989, "fp8": 1979, "fp32": 494},
            141,
            4.8,
            700,
            0.40,
            "as H100 (same compute, more and faster memory)",
        ),
        GpuModel(
            "B200",
            {"fp16": 2250, "bf16": 2250, "fp8": 4500, "fp4": 9000, "fp32": 1100},
            180,
            8.0,
            1000,
            0.35,
            "assumed below Hopper until large public runs report it",
        ),
    )
}


def find_model(text: str) -> GpuModel | None:
    """The known model named in ``text`` ("NVIDIA H100 80GB HBM3" → H100), or None."""
    upper = text.upper()
    for name in sorted(GPU_MODELS, key=len, reverse=True):
        if name in upper:
            model = GPU_MODELS[name]
            if name == "A100" and "40GB" in upper:
                return dataclasses.replace(model, memory_gb=40, bandwidth_tbs=1.555)
            return model
    return None
