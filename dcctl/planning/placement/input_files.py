"""Reading placement input: the jobs file, current allocations, probe findings.

```yaml
jobs:
  - name: llm-pretrain
    replicas: 2            # a gang: every replica places or none does
    gpus: 8                # whole GPUs per replica, or a share of one GPU: 0.25
    cpus: 64               # per replica
    memory_gib: 512        # per replica
    models: ["NVIDIA H100 80GB HBM3"]   # allowed GPU models (default: any)
    priority: 10           # weight of its GPUs in the objective (default 1)
    same: leaf_switch      # all replicas in one rack or domain of this kind
    spread: rack           # each replica in a different rack or domain of this kind
    avoid_findings: true   # keep off hosts a probe flagged (--findings)
```

Allocations (what already runs), YAML or JSON:

```yaml
allocations:
  - {host: gpu001, gpus: [0, 1, 2, 3], cpus: 32, memory_gib: 256}
  - {host: gpu002, share: {5: 0.5}, cpus: 4}      # half of GPU 5
```
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dcctl.errors import AllocationsFileError, InputError, JobsFileError
from dcctl.inventory.model import Inventory
from dcctl.planning.gpu_state import MILLI
from dcctl.planning.placement.problem import RACK, Job
from dcctl.probes.summary import probe_documents
from dcctl.scheduler.slurm_nodes import SlurmNode
from dcctl.source.diagnostics import did_you_mean
from dcctl.source.reader import Fields, read_document

_JOB_FIELDS = ("name", "replicas", "gpus", "cpus", "memory_gib", "models", "priority", "same",
               "spread", "avoid_findings")  # fmt: skip
_ALLOC_FIELDS = ("host", "gpus", "share", "cpus", "memory_gib", "job")


def topology_kinds(inventory: Inventory) -> set[str]:
    """Kinds a job may name in ``same``/``spread``: ``rack`` and the inventory's domain kinds."""
    kinds = {RACK}
    for host in inventory.hosts.values():
        kinds.update(host.domains)
    return kinds


def read_jobs(path: Path, inventory: Inventory) -> list[Job]:
    """Read a jobs file; every problem is reported with file:line:column and field."""
    source, node, diags = read_document(path, JobsFileError)
    root = Fields(source, node, "", diags, ("jobs",), ("jobs",))
    models = {p.gpu.model for p in inventory.profiles.values() if p.gpu is not None}
    kinds = topology_kinds(inventory)
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(root.sequence("jobs") or []):
        f = Fields(source, item, f"jobs[{i}]", diags, _JOB_FIELDS, ("name",))
        if not f.ok:
            continue
        name = f.str("name")
        replicas = f.number("replicas", minimum=1, maximum=100_000, integer=True)
        gpus = f.number("gpus", minimum=0, maximum=1024)
        cpus = f.number("cpus", minimum=0, maximum=100_000)
        memory = f.number("memory_gib", minimum=0, maximum=1_000_000)
        priority = f.number("priority", minimum=0, maximum=1_000_000, integer=True)
        allowed = f.str_list("models")
        same = f.str("same")
        spread = f.str("spread")
        avoid = f.boolean("avoid_findings")
        whole, milli = 0, 0
        if gpus is not None:
            if gpus >= 1 and float(gpus).is_integer():
                whole = int(gpus)
            elif 0 < gpus < 1:
                milli = round(gpus * MILLI)
                if milli < 1 or abs(milli - gpus * MILLI) > 1e-6:
                    f.error("gpus", f"a share of one GPU is counted in thousandths, got {gpus:g}")
            elif gpus:
                f.error("gpus", f"use a whole number of GPUs or a share below 1, got {gpus:g}")
        for key, kind in (("same", same), ("spread", spread)):
            if kind is not None and kind not in kinds:
                f.error(key, f"unknown rack or domain kind '{kind}'{did_you_mean(kind, kinds)}"
                        f" (known: {', '.join(sorted(kinds))})")  # fmt: skip
        if same is not None and spread is not None and same == spread:
            f.error("spread", f"same: {same} and spread: {spread} contradict each other")
        model_set = None
        if allowed is not None:
            for model, loc in allowed:
                if model not in models:
                    diags.error(loc, f"jobs[{i}].models", f"no profile has GPU model '{model}'"
                                f"{did_you_mean(model, models)}")  # fmt: skip
            model_set = frozenset(m for m, _ in allowed)
        if name is not None and name in seen:
            f.error("name", f"job '{name}' is already defined at {seen[name]}")
        if name is None:
            continue
        seen[name] = str(f.loc())
        jobs.append(
            Job(
                name=name,
                replicas=replicas if replicas is not None else 1,
                gpus=whole,
                milli=milli,
                cpu=round((cpus or 0) * MILLI),
                mem=round((memory or 0) * 1024),
                priority=priority if priority is not None else 1,
                models=model_set,
                same=same,
                spread=spread,
                avoid_findings=bool(avoid),
                loc=f.loc(),
            )
        )
    if diags.errors:
        raise JobsFileError(diags.sorted(), f"jobs file {path} is invalid")
    if not jobs:
        raise InputError(f"{path}: no jobs to place")
    return jobs


Usage = dict[str, dict[str, Any]]  # host → {"gpus": {index: milli used}, "cpu": milli, "mem": MiB}


def read_allocations(path: Path, inventory: Inventory) -> Usage:
    """Read current allocations; a host or GPU the inventory does not have is an error."""
    source, node, diags = read_document(path, AllocationsFileError)
    root = Fields(source, node, "", diags, ("allocations",), ("allocations",))
    usage: Usage = {}
    for i, item in enumerate(root.sequence("allocations") or []):
        f = Fields(source, item, f"allocations[{i}]", diags, _ALLOC_FIELDS, ("host",))
        if not f.ok:
            continue
        host = f.str("host")
        if host is None:
            continue
        if host not in inventory.hosts:
            f.error("host", f"unknown host '{host}'{did_you_mean(host, inventory.hosts)}")
            continue
        profile = inventory.profiles.get(inventory.hosts[host].profile or "")
        count = profile.gpu.count if profile is not None and profile.gpu is not None else 0
        entry = usage.setdefault(host, {"gpus": {}, "cpu": 0, "mem": 0})
        taken: list[tuple[int, int]] = []
        indices = f.plain("gpus")
        if indices is not None and not isinstance(indices, list):
            indices = [indices]
        for index in indices or []:
            taken.append((_gpu_index(index, f.loc("gpus"), count, i, diags), MILLI))
        share = f.plain("share")
        if share is not None:
            if not isinstance(share, dict):
                f.error("share", "write {GPU index: fraction}, e.g. {5: 0.5}")
            else:
                for index, fraction in share.items():
                    if not isinstance(fraction, int | float) or not 0 < fraction <= 1:
                        f.error("share", f"GPU {index}: a fraction in (0, 1], got {fraction!r}")
                        continue
                    gpu = _gpu_index(index, f.loc("share"), count, i, diags)
                    taken.append((gpu, round(fraction * MILLI)))
        for index, milli in taken:
            if index < 0:
                continue
            used = entry["gpus"].get(index, 0) + milli
            if used > MILLI:
                f.error(None, f"GPU {index} of {host} is allocated more than once")
            entry["gpus"][index] = min(MILLI, used)
        entry["cpu"] += round((f.number("cpus", minimum=0, maximum=100_000) or 0) * MILLI)
        entry["mem"] += round((f.number("memory_gib", minimum=0, maximum=1_000_000) or 0) * 1024)
    if diags.errors:
        raise AllocationsFileError(diags.sorted(), f"allocations file {path} is invalid")
    return usage


def _gpu_index(value: Any, loc: Any, count: int, i: int, diags: Any) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        diags.error(loc, f"allocations[{i}].gpus", f"{value!r} is not a GPU index")
        return -1
    index = value
    if not 0 <= index < count:
        diags.error(loc, f"allocations[{i}].gpus", f"GPU {index} does not exist (the host has "
                    f"{count})")  # fmt: skip
        return -1
    return index


#: GPU memory in use (MiB) above which a GPU with no compute process listed still counts as
#: taken (nvidia-smi does not always see other containers' processes).
BUSY_MEMORY_MIB = 1024


def allocations_from_probe(path: Path, inventory: Inventory) -> Usage:
    """GPUs in use per host, from ``dcctl probe -o json`` output.

    A GPU with a compute process on it, or with more than `BUSY_MEMORY_MIB` of its memory in
    use, counts as taken whole. A host the inventory does not have is an InputError (the probe
    was run against another inventory).
    """
    usage: Usage = {}
    for doc in probe_documents(path, "--allocations-from-probe"):
        host = str(doc["host"])
        if host not in inventory.hosts:
            raise InputError(
                f"--allocations-from-probe {path}: host '{host}' is not in the inventory"
                f"{did_you_mean(host, inventory.hosts)}"
            )
        gpu = (doc.get("results") or {}).get("gpu")
        if not isinstance(gpu, dict):
            continue
        busy = {p.get("gpu_uuid") for p in gpu.get("processes") or [] if isinstance(p, dict)}
        taken = {
            g["index"]: MILLI
            for g in gpu.get("gpus") or []
            if isinstance(g, dict)
            and isinstance(g.get("index"), int)
            and (
                (g.get("uuid") is not None and g.get("uuid") in busy)
                or (g.get("memory_used_mib") or 0) > BUSY_MEMORY_MIB
            )
        }
        if taken:
            usage[host] = {"gpus": taken, "cpu": 0, "mem": 0}
    return usage


def allocations_from_slurm(nodes: Mapping[str, SlurmNode], inventory: Inventory) -> Usage:
    """What Slurm has given to jobs per inventory host: GPUs by index, CPUs, memory.

    ``nodes`` by inventory host (their Slurm node state). GPUs Slurm lists by index (``IDX``) are
    taken whole; a count without indexes takes the lowest indexes (Slurm did not say which).
    """
    usage: Usage = {}
    for host, node in nodes.items():
        if host not in inventory.hosts:
            continue
        gpus = {i: MILLI for i in node.gpu_indexes_used}
        unnamed = max(0, (node.gpus_used or 0) - len(gpus))
        for index in [x for x in range(len(gpus) + unnamed) if x not in gpus][:unnamed]:
            gpus[index] = MILLI
        cpu, mem = (node.cpus_alloc or 0) * MILLI, node.mem_alloc_mib or 0
        if gpus or cpu or mem:
            usage[host] = {"gpus": gpus, "cpu": cpu, "mem": mem}
    return usage


def merge_usage(first: Usage, second: Usage) -> Usage:
    """Both usages: a GPU taken in either is taken (the larger share); CPU and memory add up."""
    out: Usage = {h: {"gpus": dict(u["gpus"]), "cpu": u["cpu"], "mem": u["mem"]}
                  for h, u in first.items()}  # fmt: skip
    for host, u in second.items():
        entry = out.setdefault(host, {"gpus": {}, "cpu": 0, "mem": 0})
        for index, milli in u["gpus"].items():
            entry["gpus"][index] = max(entry["gpus"].get(index, 0), milli)
        entry["cpu"] += u["cpu"]
        entry["mem"] += u["mem"]
    return out


def findings_from_probe(path: Path) -> dict[str, tuple[str, ...]]:
    """Per host, the warning and critical findings of ``dcctl probe -o json`` output."""
    out: dict[str, tuple[str, ...]] = {}
    for doc in probe_documents(path, "--findings"):
        flagged = tuple(
            f"{item.get('probe')}: {item.get('message')}"
            for item in doc.get("findings") or []
            if isinstance(item, dict) and item.get("severity") in ("warning", "critical")
        )
        if doc.get("status") not in (None, "ok"):
            flagged += (f"probe {doc.get('status')}",)
        if flagged:
            out[str(doc["host"])] = flagged
    return out
