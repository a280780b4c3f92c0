"""Reading a workloads file for ``dcctl plan capacity``: training runs and inference services.

```yaml
workloads:
  - name: llm-8b
    kind: training
    params: 8B                 # 8e9, "8.0e9", 8000000000; MoE: active_params too
    tokens: 1T                 # or dataset_tokens × epochs
    sequence_length: 8192
    gpus: 128                  # or wall_days, or gpu_hours; none: every qualifying GPU free
  - name: chat-70b
    kind: inference
    params: 70B
    precision: fp8
    context: 8192
    concurrent: 64             # or tokens_per_s
```
Every problem is reported with file:line:column and field, like every input file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcctl.errors import WorkloadsFileError
from dcctl.planning.capacity.arithmetic import BYTES, OPTIMIZER_BYTES, Parallelism, Shape
from dcctl.planning.capacity.gpu_specs import GPU_MODELS
from dcctl.source.diagnostics import Diagnostics
from dcctl.source.reader import Fields, read_document

_SUFFIX = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}
_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([KMBGTP]?)\s*$", re.I)
SHAPE_FIELDS = ("layers", "hidden", "heads", "kv_heads")
COMMON = ("name", "kind", "params", "precision", "gpu_model", "mfu", *SHAPE_FIELDS)
TRAINING_FIELDS = (
    *COMMON, "active_params", "tokens", "dataset_tokens", "epochs", "sequence_length",
    "optimizer", "gpus", "wall_days", "gpu_hours", "achieved_tflops", "parallelism",
    "global_batch_tokens", "storage_gbps", "checkpoint_hours", "workload_class",
)  # fmt: skip
INFERENCE_FIELDS = (*COMMON, "kv_precision", "context", "concurrent", "tokens_per_s", "mbu")
PARALLELISM_FIELDS = ("tensor", "pipeline", "zero", "recompute", "micro_batch")


@dataclass(frozen=True)
class Training:
    """A training run to size."""

    name: str
    params: float
    tokens: float
    active_params: float | None = None  # MoE: parameters each token goes through
    sequence_length: int = 4096
    precision: str = "bf16"
    optimizer: str = "adam"
    shape: Shape | None = None
    gpus: int | None = None
    wall_days: float | None = None
    gpu_hours: float | None = None
    mfu: float | None = None
    achieved_tflops: float | None = None  # measured per GPU, counting recomputation
    gpu_model: str | None = None
    parallelism: Parallelism | None = None
    global_batch_tokens: float = 4e6
    storage_gbps: float = 10.0
    checkpoint_hours: float = 1.0
    workload_class: str = "training"

    @property
    def compute_params(self) -> float:
        """Parameters each token's FLOPs go through (active ones for a mixture of experts)."""
        return self.active_params or self.params


@dataclass(frozen=True)
class Inference:
    """A serving deployment to size."""

    name: str
    params: float
    precision: str = "bf16"
    kv_precision: str | None = None
    context: int = 4096
    concurrent: int | None = None
    tokens_per_s: float | None = None
    shape: Shape | None = None
    gpu_model: str | None = None
    mfu: float = 0.5  # prefill
    mbu: float = 0.6  # decode: share of HBM bandwidth reached


Workload = Training | Inference


@dataclass
class _Reader:
    fields: Fields
    values: dict[str, Any] = field(default_factory=dict)

    def count(self, key: str, minimum: float = 0.0) -> float | None:
        """A count like 8B, 1.4T, 70e9 or 8000000000."""
        node = self.fields.value_node(key)
        if node is None:
            return None
        raw = self.fields.plain(key)
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            self.fields.error(key, f"expected a number such as 8B or 1.4e12, got {raw!r}")
            return None
        if isinstance(raw, str):
            m = _COUNT.match(raw)
            if not m:
                self.fields.error(key, f"expected a number such as 8B or 1.4e12, got {raw!r}")
                return None
            value = float(m.group(1)) * _SUFFIX[m.group(2).upper()]
        else:
            value = float(raw)
        if not value > minimum:
            self.fields.error(key, f"must be greater than {minimum:g}, got {value:g}")
            return None
        return value

    def integer(self, key: str, minimum: int = 1, maximum: int | None = None) -> int | None:
        value = self.fields.number(key, minimum=minimum, maximum=maximum, integer=True)
        return int(value) if value is not None else None

    def fraction(self, key: str) -> float | None:
        value = self.fields.number(key, minimum=0, maximum=1, exclusive_minimum=True)
        return float(value) if value is not None else None


def read_workloads(path: Path) -> list[Workload]:
    """Parse and check a workloads file; every problem is reported with file:line:column."""
    source, node, diags = read_document(path, WorkloadsFileError)
    root = Fields(source, node, "", diags, ("workloads",), ("workloads",))
    out: list[Workload] = []
    names: set[str] = set()
    for i, item in enumerate(root.sequence("workloads") or []):
        every = (*TRAINING_FIELDS, "kv_precision", "context", "concurrent", "tokens_per_s", "mbu")
        fields = Fields(source, item, f"workloads[{i}]", diags, every, ("name", "kind", "params"))
        if not fields.ok:
            continue
        workload = _read_one(fields, diags)
        if workload is None:
            continue
        if workload.name in names:
            fields.error("name", f"workload '{workload.name}' is defined twice")
            continue
        names.add(workload.name)
        out.append(workload)
    if not out and not diags.errors:
        root.error("workloads", "no workload given")
    if diags.errors:
        raise WorkloadsFileError(diags.sorted(), f"workloads file {path} is invalid")
    return out


def _read_one(fields: Fields, diags: Diagnostics) -> Workload | None:
    reader = _Reader(fields)
    kind = fields.str("kind", choices=("training", "inference"))
    name = fields.str("name")
    allowed = TRAINING_FIELDS if kind == "training" else INFERENCE_FIELDS
    for key in fields.entries:
        if key not in allowed:
            fields.error(key, f"not a field of a {kind} workload ({', '.join(allowed)})")
    params = reader.count("params")
    precision = fields.str("precision", choices=tuple(BYTES)) or "bf16"
    gpu_model = fields.str("gpu_model", choices=tuple(GPU_MODELS))
    shape = _shape(reader, fields)
    if kind is None or name is None or params is None:
        return None
    if kind == "inference":
        return _inference(reader, fields, name, params, precision, gpu_model, shape)
    return _training(reader, fields, name, params, precision, gpu_model, shape)


def _shape(reader: _Reader, fields: Fields) -> Shape | None:
    given = [k for k in SHAPE_FIELDS if k in fields]
    if not given:
        return None
    values = {k: reader.integer(k) for k in SHAPE_FIELDS}
    missing = [k for k in ("layers", "hidden", "heads") if k not in fields]
    if missing:
        fields.error(None, f"a model shape needs layers, hidden and heads (missing: "
                           f"{', '.join(missing)})")  # fmt: skip
        return None
    layers, hidden, heads = values["layers"], values["hidden"], values["heads"]
    if layers is None or hidden is None or heads is None:
        return None
    kv_heads = values["kv_heads"] or heads
    if hidden % heads or heads % kv_heads:
        fields.error("heads", f"hidden ({hidden}) must split evenly over heads ({heads}), and "
                              f"heads over kv_heads ({kv_heads})")  # fmt: skip
        return None
    return Shape(layers, hidden, heads, kv_heads)


def _training(
    reader: _Reader,
    fields: Fields,
    name: str,
    params: float,
    precision: str,
    gpu_model: str | None,
    shape: Shape | None,
) -> Training | None:
    tokens = reader.count("tokens")
    dataset = reader.count("dataset_tokens")
    epochs = fields.number("epochs", minimum=0, exclusive_minimum=True)
    if tokens is None and dataset is not None:
        tokens = dataset * float(epochs or 1)
    if tokens is None:
        if "tokens" not in fields and "dataset_tokens" not in fields:
            fields.error(None, "a training workload needs tokens (or dataset_tokens × epochs)")
        return None
    targets = [k for k in ("gpus", "wall_days", "gpu_hours") if k in fields]
    if len(targets) > 1:
        fields.error(targets[1], f"give one of gpus, wall_days or gpu_hours, not {targets}")
    active = reader.count("active_params")
    if active is not None and active > params:
        fields.error("active_params", "cannot exceed params")
    parallelism = _parallelism(reader, fields)
    optimizer = fields.str("optimizer", choices=tuple(OPTIMIZER_BYTES)) or "adam"
    wall = fields.number("wall_days", minimum=0, exclusive_minimum=True)
    hours = reader.count("gpu_hours")
    tflops = fields.number("achieved_tflops", minimum=0, exclusive_minimum=True)
    batch = reader.count("global_batch_tokens")
    storage = fields.number("storage_gbps", minimum=0, exclusive_minimum=True)
    every = fields.number("checkpoint_hours", minimum=0, exclusive_minimum=True)
    return Training(
        name=name,
        params=params,
        tokens=tokens,
        active_params=active,
        sequence_length=reader.integer("sequence_length") or 4096,
        precision=precision,
        optimizer=optimizer,
        shape=shape,
        gpus=reader.integer("gpus"),
        wall_days=float(wall) if wall is not None else None,
        gpu_hours=hours,
        mfu=reader.fraction("mfu"),
        achieved_tflops=float(tflops) if tflops is not None else None,
        gpu_model=gpu_model,
        parallelism=parallelism,
        global_batch_tokens=batch or 4e6,
        storage_gbps=float(storage) if storage is not None else 10.0,
        checkpoint_hours=float(every) if every is not None else 1.0,
        workload_class=fields.str("workload_class") or "training",
    )


def _parallelism(reader: _Reader, fields: Fields) -> Parallelism | None:
    sub = fields.sub("parallelism", PARALLELISM_FIELDS)
    if sub is None:
        return None
    inner = _Reader(sub)
    return Parallelism(
        tensor=inner.integer("tensor") or 1,
        pipeline=inner.integer("pipeline") or 1,
        zero=inner.integer("zero", minimum=0, maximum=3) or 0 if "zero" in sub else 1,
        recompute=sub.str("recompute", choices=("none", "selective", "full")) or "selective",
        micro_batch=inner.integer("micro_batch") or 1,
    )


def _inference(
    reader: _Reader,
    fields: Fields,
    name: str,
    params: float,
    precision: str,
    gpu_model: str | None,
    shape: Shape | None,
) -> Inference | None:
    concurrent = reader.integer("concurrent")
    rate = reader.count("tokens_per_s")
    if concurrent is None and rate is None and "concurrent" not in fields:
        concurrent = 1
    return Inference(
        name=name,
        params=params,
        precision=precision,
        kv_precision=fields.str("kv_precision", choices=tuple(BYTES)),
        context=reader.integer("context") or 4096,
        concurrent=concurrent,
        tokens_per_s=rate,
        shape=shape,
        gpu_model=gpu_model,
        mfu=reader.fraction("mfu") or 0.5,
        mbu=reader.fraction("mbu") or 0.6,
    )
