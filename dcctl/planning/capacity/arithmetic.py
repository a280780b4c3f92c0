"""The published arithmetic of training and serving transformers, as pure functions.

Every formula is written out with its source in docs/capacity.md. Units: FLOPs, bytes, seconds,
watts; parameters and tokens as plain counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Bytes per parameter of each precision (weights, or KV cache entries).
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}
#: Model-state bytes per parameter in mixed-precision training (ZeRO, Rajbhandari et al. 2020,
#: §3.1): 16-bit weights and gradients, fp32 master weights and two Adam moments.
WEIGHT_BYTES, GRAD_BYTES = 2.0, 2.0
OPTIMIZER_BYTES = {"adam": 12.0, "adamw": 12.0, "sgd": 8.0, "adafactor": 4.0}
#: Share of HBM a plan may fill (the rest: CUDA context, allocator fragmentation, workspaces).
USABLE_MEMORY = 0.9


@dataclass(frozen=True)
class Shape:
    """A transformer's shape: what the attention and activation terms need."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    estimated: bool = False  # derived from the parameter count, not given

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads


def estimated_shape(params: float) -> Shape:
    """A shape for ``params`` when none is given (marked estimated).

    N ≈ 12·L·d² with d = 128·L (GPT-3's family keeps d/L near 100-130), heads of 128, no
    grouped-query attention.
    """
    hidden = (128 * params / 12) ** (1 / 3)
    hidden = max(128, round(hidden / 128) * 128)
    layers = max(1, round(params / (12 * hidden * hidden)))
    heads = max(1, hidden // 128)
    return Shape(layers, hidden, heads, heads, estimated=True)


def training_flops(params: float, tokens: float, shape: Shape | None, seq: int | None) -> float:
    """Model FLOPs of a training run: 6·N·D, plus 6·L·s·d·D for attention when known.

    Kaplan et al. 2020, Table 1: 2N + 2·L·n_ctx·d FLOPs per token forward, three times that with
    the backward pass. The attention term needs the shape and the sequence length.
    """
    flops = 6.0 * params * tokens
    if shape is not None and seq:
        flops += 6.0 * shape.layers * seq * shape.hidden * tokens
    return flops


def training_seconds(flops: float, gpus: int, peak: float, mfu: float) -> float:
    """Wall time: FLOPs / (GPUs × peak × MFU)."""
    return flops / (gpus * peak * mfu)


@dataclass(frozen=True)
class Parallelism:
    """How a training run is split: tensor, pipeline and data parallel, ZeRO, recomputation."""

    tensor: int = 1
    pipeline: int = 1
    zero: int = 1  # 0 none, 1 optimizer states, 2 + gradients, 3 + weights (over data parallel)
    recompute: str = "selective"  # none, selective, full
    micro_batch: int = 1

    def data(self, gpus: int) -> int:
        """Data-parallel degree on ``gpus``."""
        return max(1, gpus // (self.tensor * self.pipeline))


def model_state_bytes(params: float, par: Parallelism, gpus: int, optimizer: str) -> float:
    """Weights, gradients and optimizer states per GPU.

    Sharded by tensor × pipeline, and by data parallel for the states ZeRO's stage covers
    (Rajbhandari et al. 2020, Figure 1).
    """
    per_model_shard = params / (par.tensor * par.pipeline)
    dp = par.data(gpus)
    weights = WEIGHT_BYTES / (dp if par.zero >= 3 else 1)
    grads = GRAD_BYTES / (dp if par.zero >= 2 else 1)
    states = OPTIMIZER_BYTES[optimizer] / (dp if par.zero >= 1 else 1)
    return per_model_shard * (weights + grads + states)


def activation_bytes(shape: Shape, seq: int, par: Parallelism) -> float:
    """Activation bytes held by the first pipeline stage, the most loaded one.

    With 1F1B it keeps ``pipeline`` micro-batches of its L/p layers: L layers' worth. 16-bit,
    with sequence parallelism (Korthikanti et al. 2022, Table 2): per layer
    s·b·h·(34/t + 5·a·s/(h·t)); with selective recomputation 34·s·b·h/t; with full
    recomputation 2·s·b·h (the layer's input).
    """
    s, b, h, a, t = seq, par.micro_batch, shape.hidden, shape.heads, par.tensor
    if par.recompute == "full":
        per_layer = 2.0 * s * b * h
    elif par.recompute == "selective":
        per_layer = 34.0 * s * b * h / t
    else:
        per_layer = s * b * h * (34.0 / t + 5.0 * a * s / (h * t))
    return shape.layers * per_layer


def allreduce_seconds(params: float, par: Parallelism, gpus: int, bytes_per_s: float) -> float:
    """Seconds of one gradient all-reduce per step at the GPU's share of the network.

    Ring all-reduce: each GPU sends 2·(p−1)/p of its gradient shard (Patarasuk & Yuan 2009).
    """
    dp = par.data(gpus)
    if dp <= 1 or bytes_per_s <= 0:
        return 0.0
    grad = GRAD_BYTES * params / (par.tensor * par.pipeline)
    return 2.0 * (dp - 1) / dp * grad / bytes_per_s


def checkpoint_bytes(params: float, optimizer: str) -> float:
    """A full training checkpoint: 16-bit weights plus the fp32 master weights and moments."""
    return params * (WEIGHT_BYTES + OPTIMIZER_BYTES[optimizer])


def kv_bytes_per_token(shape: Shape, precision: str) -> float:
    """KV-cache bytes of one token: 2 (K and V) × layers × KV heads × head width × bytes.

    Pope et al. 2022, §2; grouped-query attention shares K/V across heads.
    """
    return 2.0 * shape.layers * shape.kv_heads * shape.head_dim * BYTES[precision]


def decode_tokens_per_s(
    weights: float, kv_per_seq: float, sequences: int, bandwidth: float, mbu: float
) -> float:
    """Decode tokens per second of one replica, bound by memory bandwidth.

    Each step reads every weight and every sequence's KV cache once and yields one token per
    sequence (Pope et al. 2022; ``mbu``: memory bandwidth utilisation).
    """
    step = (weights + sequences * kv_per_seq) / (bandwidth * mbu)
    return sequences / step


def prefill_tokens_per_s(params: float, peak: float, mfu: float) -> float:
    """Compute-bound prefill: 2·N FLOPs per prompt token (Kaplan et al. 2020)."""
    return peak * mfu / (2.0 * params)


def gpus_to_hold(nbytes: float, gpu_bytes: float) -> int:
    """The fewest GPUs (a power of two, as tensor parallelism splits) holding ``nbytes``."""
    need = max(1, math.ceil(nbytes / (gpu_bytes * USABLE_MEMORY)))
    return 1 << (need - 1).bit_length()
