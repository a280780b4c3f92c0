"""Sizing one workload on one GPU model: compute, memory, network, storage (no inventory).

:func:`size_training` and :func:`size_inference` apply the arithmetic of
:mod:`dcctl.planning.capacity.arithmetic` to a workload, a GPU model and a GPU count; the fit
against a site (profiles, racks, power) is in :mod:`dcctl.planning.capacity.fit`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dcctl.planning.capacity.arithmetic import (
    BYTES,
    USABLE_MEMORY,
    Parallelism,
    Shape,
    activation_bytes,
    allreduce_seconds,
    checkpoint_bytes,
    decode_tokens_per_s,
    estimated_shape,
    gpus_to_hold,
    kv_bytes_per_token,
    model_state_bytes,
    prefill_tokens_per_s,
    training_flops,
    training_seconds,
)
from dcctl.planning.capacity.gpu_specs import GpuModel
from dcctl.planning.capacity.workloads import Inference, Training

GB = 1e9
#: Largest replica tried when sizing a service for a rate (a node of eight GPUs).
MAX_REPLICA_GPUS = 8
#: Most sequences one replica batches (serving stacks cap their batch around here).
MAX_SEQUENCES = 256
#: Bytes of raw text per token (English BPE: about four characters per token).
TEXT_BYTES_PER_TOKEN = 4.0


@dataclass(frozen=True)
class Memory:
    """Bytes per GPU of a training plan."""

    model_states: float
    activations: float
    capacity: float  # usable HBM

    @property
    def total(self) -> float:
        """Everything a GPU holds."""
        return self.model_states + self.activations

    @property
    def fits(self) -> bool:
        """Within the usable memory."""
        return self.total <= self.capacity


@dataclass
class TrainingSize:
    """A training run sized on a GPU model and count."""

    workload: Training
    gpu: GpuModel
    gpus: int
    mfu: float
    mfu_source: str
    flops: float
    seconds: float
    parallelism: Parallelism
    memory: Memory
    shape: Shape
    step_tokens: float
    step_compute_s: float
    step_allreduce_s: float
    checkpoint_bytes: float
    checkpoint_write_s: float
    dataset_bytes: float
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> float:
        """Wall time in days."""
        return self.seconds / 86400

    @property
    def gpu_hours(self) -> float:
        """GPUs × hours."""
        return self.gpus * self.seconds / 3600

    @property
    def bound_by(self) -> str:
        """What limits a step: compute or the gradient all-reduce (no overlap assumed)."""
        return "communication" if self.step_allreduce_s > self.step_compute_s else "compute"


def training_mfu(workload: Training, gpu: GpuModel) -> tuple[float, str]:
    """The utilisation to assume: the workload's, from its measured TFLOP/s, or the model's."""
    if workload.mfu is not None:
        return workload.mfu, "given"
    if workload.achieved_tflops is not None:
        peak = gpu.peak(workload.precision) / 1e12
        recompute = workload.parallelism is not None and workload.parallelism.recompute == "full"
        executed = 8.0 / 6.0 if recompute else 1.0  # full recomputation runs the forward twice
        return workload.achieved_tflops / peak / executed, (
            f"{workload.achieved_tflops:g} TFLOP/s measured per GPU"
        )
    return gpu.default_mfu, f"default for {gpu.name}: {gpu.mfu_source}"


def gpus_for_target(workload: Training, gpu: GpuModel, per_node: int) -> int | None:
    """GPUs (whole nodes) that finish in ``wall_days``, or None when no time target is set."""
    if workload.wall_days is None:
        return None
    mfu, _ = training_mfu(workload, gpu)
    flops = training_flops(workload.compute_params, workload.tokens, workload.shape,
                           workload.sequence_length)  # fmt: skip
    need = flops / (workload.wall_days * 86400 * gpu.peak(workload.precision) * mfu)
    return max(per_node, math.ceil(need / per_node) * per_node)


def choose_parallelism(
    workload: Training, gpu: GpuModel, gpus: int, per_node: int, shape: Shape
) -> tuple[Parallelism, Memory]:
    """The given split, or the least sharding that fits.

    Tried in order: ZeRO 1, 2, 3 over data parallel, then tensor parallel within a node (1..8),
    then pipeline stages; selective recomputation, full recomputation as the last resort. When
    nothing fits, the split that comes closest (the caller says it does not fit).
    """
    capacity = gpu.memory_gb * GB * USABLE_MEMORY
    if workload.parallelism is not None:
        par = workload.parallelism
        return par, _memory(workload, par, gpus, shape, capacity)
    tensors = [t for t in (1, 2, 4, 8) if t <= max(1, per_node) and t <= gpus]
    best: tuple[Parallelism, Memory] | None = None
    for recompute in ("selective", "full"):
        for pipeline in (1, 2, 4, 8, 16, 32, 64):
            for tensor in tensors:
                if tensor * pipeline > gpus or shape.layers < pipeline:
                    continue
                for zero in (1, 2, 3):
                    par = Parallelism(tensor, pipeline, zero, recompute)
                    memory = _memory(workload, par, gpus, shape, capacity)
                    if memory.fits:
                        return par, memory
                    if best is None or memory.total < best[1].total:
                        best = (par, memory)
    assert best is not None
    return best


def _memory(
    workload: Training, par: Parallelism, gpus: int, shape: Shape, capacity: float
) -> Memory:
    states = model_state_bytes(workload.params, par, gpus, workload.optimizer)
    acts = activation_bytes(shape, workload.sequence_length, par)
    return Memory(states, acts, capacity)


def size_training(
    workload: Training, gpu: GpuModel, gpus: int, per_node: int, network_gbps: float
) -> TrainingSize:
    """Size a training run on ``gpus`` GPUs of a model.

    ``per_node`` GPUs share a node, whose inter-node bandwidth is ``network_gbps`` in all.
    """
    shape = workload.shape or estimated_shape(workload.params)
    notes = []
    if workload.shape is None:
        notes.append(
            f"shape estimated from the parameter count: {shape.layers} layers, hidden "
            f"{shape.hidden}, {shape.heads} heads (give layers/hidden/heads for exact figures)"
        )
    mfu, mfu_source = training_mfu(workload, gpu)
    flops = training_flops(workload.compute_params, workload.tokens, workload.shape,
                           workload.sequence_length)  # fmt: skip
    peak = gpu.peak(workload.precision)
    seconds = training_seconds(flops, gpus, peak, mfu)
    par, memory = choose_parallelism(workload, gpu, gpus, per_node, shape)
    step_tokens = workload.global_batch_tokens
    step_compute = training_flops(workload.compute_params, step_tokens, workload.shape,
                                  workload.sequence_length) / (gpus * peak * mfu)  # fmt: skip
    per_gpu_bytes = network_gbps * 1e9 / 8 / max(1, per_node)
    allreduce = allreduce_seconds(workload.params, par, gpus, per_gpu_bytes)
    ckpt = checkpoint_bytes(workload.params, workload.optimizer)
    return TrainingSize(
        workload=workload,
        gpu=gpu,
        gpus=gpus,
        mfu=mfu,
        mfu_source=mfu_source,
        flops=flops,
        seconds=seconds,
        parallelism=par,
        memory=memory,
        shape=shape,
        step_tokens=step_tokens,
        step_compute_s=step_compute,
        step_allreduce_s=allreduce,
        checkpoint_bytes=ckpt,
        checkpoint_write_s=ckpt / (workload.storage_gbps * GB),
        dataset_bytes=workload.tokens * TEXT_BYTES_PER_TOKEN,
        notes=notes,
    )


@dataclass
class InferenceSize:
    """A serving deployment sized on a GPU model."""

    workload: Inference
    gpu: GpuModel
    weights_bytes: float
    kv_bytes_per_sequence: float
    sequences_per_replica: int
    gpus_per_replica: int
    min_gpus_for_weights: int
    decode_tokens_per_s: float  # one replica
    prefill_tokens_per_s: float  # one replica
    replicas: int
    shape: Shape
    notes: list[str] = field(default_factory=list)

    @property
    def gpus(self) -> int:
        """GPUs in all."""
        return self.replicas * self.gpus_per_replica

    @property
    def replica_bytes(self) -> float:
        """Weights and every sequence's KV cache of one replica."""
        return self.weights_bytes + self.sequences_per_replica * self.kv_bytes_per_sequence


def size_inference(workload: Inference, gpu: GpuModel) -> InferenceSize:
    """Memory per replica (weights + KV cache), GPUs per replica, throughput, replicas."""
    shape = workload.shape or estimated_shape(workload.params)
    notes = []
    if workload.shape is None:
        notes.append("shape estimated from the parameter count (give layers/hidden/heads/kv_heads)")
    weights = workload.params * BYTES[workload.precision]
    kv_seq = workload.context * kv_bytes_per_token(shape, workload.kv_precision or "bf16")
    gpu_bytes = gpu.memory_gb * GB
    peak = gpu.peak(workload.precision if workload.precision in gpu.tflops else "bf16")
    smallest = gpus_to_hold(weights + kv_seq, gpu_bytes)

    def tokens_per_s(gpus: int, sequences: int) -> float:
        """Decode rate of one replica: memory-bound, and never above its compute."""
        bandwidth = gpus * gpu.bandwidth_tbs * 1e12
        memory_bound = decode_tokens_per_s(weights, kv_seq, sequences, bandwidth, workload.mbu)
        return min(memory_bound, prefill_tokens_per_s(workload.params, gpus * peak, workload.mfu))

    if workload.concurrent is not None or workload.tokens_per_s is None:
        sequences = workload.concurrent or 1
        per_replica = gpus_to_hold(weights + sequences * kv_seq, gpu_bytes)
    else:
        # A rate to serve: the replica size (1..8 GPUs, or what the weights need) whose memory,
        # filled with sequences, gives the most tokens per second per GPU.
        best: tuple[float, int, int] | None = None
        g = smallest
        while g <= max(smallest, MAX_REPLICA_GPUS):
            room = int((g * gpu_bytes * USABLE_MEMORY - weights) // kv_seq)
            if room >= 1:
                seqs = min(room, MAX_SEQUENCES)
                rate = tokens_per_s(g, seqs) / g
                if best is None or rate > best[0]:
                    best = (rate, g, seqs)
            g *= 2
        assert best is not None
        _, per_replica, sequences = best
    decode = tokens_per_s(per_replica, sequences)
    prefill = prefill_tokens_per_s(workload.params, per_replica * peak, workload.mfu)
    replicas = 1
    if workload.tokens_per_s is not None:
        replicas = max(1, math.ceil(workload.tokens_per_s / decode))
    return InferenceSize(
        workload=workload,
        gpu=gpu,
        weights_bytes=weights,
        kv_bytes_per_sequence=kv_seq,
        sequences_per_replica=sequences,
        gpus_per_replica=per_replica,
        min_gpus_for_weights=gpus_to_hold(weights, gpu_bytes),
        decode_tokens_per_s=decode,
        prefill_tokens_per_s=prefill,
        replicas=replicas,
        shape=shape,
        notes=notes,
    )
