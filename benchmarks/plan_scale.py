"""Benchmark: dry-run of one playbook over 1,000 simulated hosts, with folded diffs.

Hosts answer through a fake transport (no network): each host is in one of four states, so the
plan folds into a few rows. Times planning (the one-round-trip read script per host, parsed,
every resource planned) and rendering the folded diff. Goal: < 2 s here.

Run by hand: ``.venv/bin/python benchmarks/plan_scale.py``.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dcctl.inventory.loader import load_inventory
from dcctl.model.command import Command, CommandResult
from dcctl.playbook.planner import plan_playbook
from dcctl.playbook.schema import read_playbook
from dcctl.render.console import make_console
from dcctl.render.plan import render_plan
from dcctl.transport.fake import FakeTransport

PLAYBOOK = """\
name: fleet baseline
hosts: all
resources:
  - {type: sysctl, name: net.core.rmem_max, value: 268435456, file: /etc/sysctl.d/90-dcctl.conf}
  - {type: sysctl, name: net.core.wmem_max, value: 268435456, file: /etc/sysctl.d/90-dcctl.conf}
  - {type: file, path: /etc/dcctl/role, content: "gpu-node\\n", mode: "0644"}
  - {type: line, path: /etc/hosts, line: "10.0.0.5 scheduler"}
  - {type: gpu_power_limit, watts: 650}
  - {type: gpu_persistence, enabled: true}
"""
STATES = [
    {  # converged
        "sysctl -n -- net.core.rmem_max": "268435456",
        "sysctl -n -- net.core.wmem_max": "268435456",
        "cat -- /etc/sysctl.d/90-dcctl.conf": (
            "net.core.rmem_max = 268435456\nnet.core.wmem_max = 268435456\n"
        ),
        "cat -- /etc/dcctl/role": "gpu-node\n",
        "stat -c '%a %U:%G' -- /etc/dcctl/role": "644 root:root",
        "cat -- /etc/hosts": "127.0.0.1 localhost\n10.0.0.5 scheduler\n",
        "gpu": "650.00, Enabled",
    },
    {  # fresh install
        "sysctl -n -- net.core.rmem_max": "212992",
        "sysctl -n -- net.core.wmem_max": "212992",
        "cat -- /etc/dcctl/role": None,
        "cat -- /etc/sysctl.d/90-dcctl.conf": None,
        "cat -- /etc/hosts": "127.0.0.1 localhost\n",
        "gpu": "700.00, Disabled",
    },
]


def gpu_rows(spec: str) -> str:
    limit, persistence = (s.strip() for s in spec.split(","))
    return "".join(
        f"{i}, {limit}, 700.00, 200.00, 700.00, {persistence}, Default\n" for i in range(8)
    )


class SimulatedHost(FakeTransport):
    """Answers the planner's read script from a state table."""

    def __init__(self, host: str, state: dict[str, str | None]) -> None:
        super().__init__(host)
        self.state = state

    def run(self, command: Command, *, timeout: float | None = None) -> CommandResult:
        script = command.argv[2]
        boundary = re.search(r"DCCTL-[0-9a-f]{16}", script).group(0)
        out = []
        for key, shell in re.findall(r"DCCTL-[0-9a-f]{16} (r\d+\.\w+); (.*?)\n rc=\$\?", script):
            if "nvidia-smi" in shell:
                text, rc = gpu_rows(self.state.get("gpu") or "700.00, Disabled"), 0
            else:
                if shell.startswith("sh -c 'if [ -e"):  # read_file: exit 3 when absent
                    shell = "cat -- " + shell.rsplit(" ", 1)[1]
                value = self.state.get(shell, "")
                text, rc = (
                    ("", 3)
                    if value is None
                    else (value + ("" if value.endswith("\n") else "\n"), 0)
                )
            out.append(f"{boundary} BEGIN {key}\n{text}\n{boundary} END {key} rc={rc}\n")
        return CommandResult(0, "".join(out))


def main() -> None:
    """Build, plan, render, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inv_path = Path(tmp) / "inventory.yaml"
        inv_path.write_text(f"hosts:\n  - name: 'node[0001-{args.hosts:04d}]'\n")
        pb_path = Path(tmp) / "playbook.yaml"
        pb_path.write_text(PLAYBOOK)
        inventory = load_inventory(inv_path)
        playbook = read_playbook(pb_path)
    names = {name: i for i, name in enumerate(inventory.hosts)}  # O(1): the harness costs nothing
    drift = dict(STATES[0], **{"sysctl -n -- net.core.rmem_max": "4194304"})
    partial = dict(STATES[0], gpu="700.00, Enabled")
    states = [STATES[0], STATES[1], drift, partial]
    start = time.perf_counter()
    plan = plan_playbook(
        playbook, inventory, lambda h: SimulatedHost(h, states[names[h] % 4]), forks=64
    )
    planned = time.perf_counter()
    buffer = io.StringIO()
    render_plan(make_console(file=buffer), plan)
    rendered = time.perf_counter()
    rows = [line for line in buffer.getvalue().splitlines() if not line.startswith("    ")]
    print(f"machine: {platform.node()}, Python {platform.python_version()}")
    resources = len(playbook.resources)
    print(f"{len(plan.hosts)} hosts, {resources} resources, {plan.pending} changes pending")
    plan_s, render_s = planned - start, rendered - planned
    print(f"plan: {plan_s:.3f} s; render folded diff: {render_s:.3f} s ({len(rows)} rows)")
    print("\n".join(rows[:12]))
    figures = {"hosts": len(plan.hosts), "plan_s": round(plan_s, 3)}
    figures.update(render_s=round(render_s, 3), pending=plan.pending)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
