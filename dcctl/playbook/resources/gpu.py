"""GPU resources through nvidia-smi: power limit, persistence mode, compute mode."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass

from dcctl.errors import PlaybookError
from dcctl.model.command import Command
from dcctl.playbook.model import Change, Outcome
from dcctl.playbook.resources.types import FieldSpec, ResourceType, register
from dcctl.probes import gpu_values as v
from dcctl.probes.base import Output

_QUERY = (
    "--query-gpu=index,power.limit,power.default_limit,power.min_limit,power.max_limit,"
    "persistence_mode,compute_mode"
)
COMPUTE_MODES = ("DEFAULT", "EXCLUSIVE_PROCESS", "PROHIBITED")


def gpu_state_command() -> Command:
    """One read for every GPU resource."""
    return Command.of(["nvidia-smi", _QUERY, "--format=csv,noheader,nounits"])


def parse_gpu_state(output: Output | None) -> dict[int, dict[str, str]]:
    """Per GPU index: power limit, default/min/max, persistence, compute mode (raw text)."""
    if output is None or output.rc != 0:
        reason = "no output" if output is None else (output.text.strip().splitlines() or ["?"])[0]
        raise PlaybookError(f"cannot read GPU state: {reason}")
    keys = ("limit", "default", "min", "max", "persistence", "compute_mode")
    out = {}
    for row in csv.reader(io.StringIO(output.text), skipinitialspace=True):
        if len(row) == 7 and row[0].strip().isdigit():
            out[int(row[0])] = dict(zip(keys, (c.strip() for c in row[1:]), strict=True))
    return out


def _selected(state: Mapping[int, object], gpus: tuple[int, ...] | None) -> list[int]:
    wanted = sorted(state) if gpus is None else list(gpus)
    missing = [g for g in wanted if g not in state]
    if missing:
        raise PlaybookError(f"GPU {missing[0]} not present (GPUs: {sorted(state)})")
    return wanted


def _grouped(per_gpu: dict[int, str]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, value in sorted(per_gpu.items()):
        groups.setdefault(value, []).append(index)
    return groups


@dataclass(frozen=True)
class GpuPowerLimit:
    """A power limit in watts, or as a percentage of each GPU's default limit."""

    watts: float | None = None
    percent: float | None = None
    gpus: tuple[int, ...] | None = None

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``gpu_power_limit 650 W`` or ``gpu_power_limit 90% of default``."""
        target = f"{self.watts:g} W" if self.watts is not None else f"{self.percent:g}% of default"
        return f"gpu_power_limit {target}" + (f" (GPUs {list(self.gpus)})" if self.gpus else "")

    def reads(self) -> dict[str, Command]:
        """GPU state."""
        return {"gpus": gpu_state_command()}

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Set the limit on the GPUs whose limit differs; refuse targets out of range."""
        state = parse_gpu_state(outputs.get("gpus"))
        changes: dict[int, float] = {}
        before: dict[int, str] = {}
        for index in _selected(state, self.gpus):
            gpu = state[index]
            default, lo, hi = v.number(gpu["default"]), v.number(gpu["min"]), v.number(gpu["max"])
            target = (
                self.watts if self.watts is not None else (default or 0) * (self.percent or 0) / 100
            )
            target = round(target)
            if lo is not None and hi is not None and not lo <= target <= hi:
                raise PlaybookError(f"GPU {index}: {target} W is outside its range {lo:g}–{hi:g} W")
            current = v.number(gpu["limit"])
            if current is None or abs(current - target) >= 0.5:
                changes[index] = target
                before[index] = f"{current:g} W" if current is not None else "?"
        if not changes:
            return Outcome(self.label(), None, "every selected GPU already at its target")
        commands = tuple(
            Command.of(["nvidia-smi", "-i", ",".join(map(str, idx)), "-pl", value])
            for value, idx in _grouped({i: f"{w:g}" for i, w in changes.items()}).items()
        )
        return Outcome(
            self.label(),
            Change(
                self.label(),
                before=", ".join(f"GPU{i} {b}" for i, b in sorted(before.items())),
                after=", ".join(f"GPU{i} {w:g} W" for i, w in sorted(changes.items())),
                reason=f"{len(changes)} GPU(s) not at the target limit",
                commands=commands,
            ),
        )


@dataclass(frozen=True)
class GpuPersistence:
    """Persistence mode on or off."""

    enabled: bool = True
    gpus: tuple[int, ...] | None = None

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``gpu_persistence on``."""
        return f"gpu_persistence {'on' if self.enabled else 'off'}"

    def reads(self) -> dict[str, Command]:
        """GPU state."""
        return {"gpus": gpu_state_command()}

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Switch the GPUs whose mode differs."""
        state = parse_gpu_state(outputs.get("gpus"))
        wrong = [
            i
            for i in _selected(state, self.gpus)
            if v.flag(state[i]["persistence"]) != self.enabled
        ]
        if not wrong:
            return Outcome(
                self.label(), None, f"persistence already {'on' if self.enabled else 'off'}"
            )
        flag = "1" if self.enabled else "0"
        return Outcome(
            self.label(),
            Change(
                self.label(),
                before=", ".join(f"GPU{i} {state[i]['persistence']}" for i in wrong),
                after=", ".join(
                    f"GPU{i} {'Enabled' if self.enabled else 'Disabled'}" for i in wrong
                ),
                reason=f"{len(wrong)} GPU(s) differ",
                commands=(
                    Command.of(["nvidia-smi", "-i", ",".join(map(str, wrong)), "-pm", flag]),
                ),
            ),
        )


@dataclass(frozen=True)
class GpuComputeMode:
    """Compute mode: DEFAULT, EXCLUSIVE_PROCESS or PROHIBITED."""

    mode: str = "DEFAULT"
    gpus: tuple[int, ...] | None = None

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``gpu_compute_mode DEFAULT``."""
        return f"gpu_compute_mode {self.mode}"

    def reads(self) -> dict[str, Command]:
        """GPU state."""
        return {"gpus": gpu_state_command()}

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Switch the GPUs whose mode differs."""
        state = parse_gpu_state(outputs.get("gpus"))
        norm = self.mode.upper()
        wrong = [
            i
            for i in _selected(state, self.gpus)
            if state[i]["compute_mode"].upper().replace(" ", "_") != norm
        ]
        if not wrong:
            return Outcome(self.label(), None, f"compute mode already {norm}")
        return Outcome(
            self.label(),
            Change(
                self.label(),
                before=", ".join(f"GPU{i} {state[i]['compute_mode']}" for i in wrong),
                after=", ".join(f"GPU{i} {norm}" for i in wrong),
                reason=f"{len(wrong)} GPU(s) differ",
                commands=(Command.of(["nvidia-smi", "-i", ",".join(map(str, wrong)), "-c", norm]),),
            ),
        )


_GPUS = FieldSpec("gpus", "int_list", "GPU indices (default: every GPU)")
register(
    ResourceType(
        "gpu_power_limit",
        "a power limit in watts, or a percentage of each GPU's default",
        (
            FieldSpec(
                "watts",
                "number",
                "the limit in W (within each GPU's min..max at plan time)",
                minimum=1,
                maximum=100_000,
            ),
            FieldSpec(
                "percent",
                "number",
                "the limit as a percentage of each GPU's default",
                minimum=1,
                maximum=200,
            ),
            _GPUS,
        ),
        lambda f: GpuPowerLimit(f.get("watts"), f.get("percent"), f.get("gpus")),
        one_of=(("watts", "percent"),),
    )
)
register(
    ResourceType(
        "gpu_persistence",
        "persistence mode on or off",
        (FieldSpec("enabled", "bool", "on or off", default=True), _GPUS),
        lambda f: GpuPersistence(f.get("enabled", True), f.get("gpus")),
    )
)
register(ResourceType(
    "gpu_compute_mode", "the GPUs' compute mode",
    (FieldSpec("mode", "choice", "the mode", default="DEFAULT", choices=COMPUTE_MODES), _GPUS),
    lambda f: GpuComputeMode(f.get("mode", "DEFAULT"), f.get("gpus")),
))  # fmt: skip
