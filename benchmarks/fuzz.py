"""Mutation fuzz of every kind of input file: no crash, every error located, no invalid accepted.

Each valid seed file is mutated many times, then checked the way ``dcctl validate`` checks it
(the same code, in process). Two families of mutants:

* **text** mutants (a line deleted, duplicated, swapped, re-indented, truncated; a character
  flipped; a hostile value put in place of a scalar: ``$(reboot)``, a leading ``-``, a newline, a
  NUL, a 100 kB string, ``[``): validity unknown, so the checks are that nothing crashes (an
  exception that is not a dcctl error is what the CLI turns into exit 70) and that every error
  carries ``file:line``.
* **known-invalid** mutants, made on the parsed data and written back as YAML: an unknown key in
  a mapping that is not free-form (``vars``), a boolean replaced by ``maybe``, a required
  top-level list replaced by a scalar. Each must be refused (exit 64) with a location.

Run by hand: ``.venv/bin/python benchmarks/fuzz.py --mutants 2000`` (per kind). The test suite
runs a few dozen per kind (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dcctl.inventory.loader import check_inventory  # noqa: E402
from dcctl.inventory.model import Inventory  # noqa: E402
from dcctl.validate.files import FileCheck, check_file  # noqa: E402

EXAMPLE = ROOT / "inventory" / "example.yaml"

SEEDS: dict[str, list[str]] = {
    "playbook": [p.read_text() for p in sorted((ROOT / "playbooks").glob("*.yaml"))],
    "jobs file": [(ROOT / "jobs" / "example.yaml").read_text()],
    "class map": [
        "classes:\n  batch-train: [[0.0, 0.0], [0.6, 0.9], [1.0, 1.0]]\nassign:\n"
        '  - {hosts: "@canary", class: inference-decode, priority: 3}\n'
        '  - hosts: "gpu[001-008]"\n    class: training\n    priority: 2\n'
        "default: {class: training, priority: 1}\nfloors: {inference-decode: 0.95}\n"
    ],
    "allocations file": [
        "allocations:\n  - {host: gpu001, gpus: [0, 1, 2]}\n  - host: gpu002\n    gpus: [4]\n"
    ],
    "workloads file": [(ROOT / "workloads" / "example-training.yaml").read_text()],
    "health policy": [
        'rules:\n  - rule: xid_13\n    hosts: "@canary"\n    ignore: true\n'
        "  - rule: xid_13\n    severity: critical\n    action: drain\n    note: why\n"
        '  - rule: "nvlink_*"\n    action: inspect_hardware\n'
    ],
    "inventory": [EXAMPLE.read_text()],
}
#: Mappings whose keys are the user's own names: an extra key there is valid.
FREE_FORM = {"vars", "classes", "floors", "labels", "env"}
HOSTILE = ["$(reboot)", "-rf", "`id`", "a\nb", "x\x00y", "y" * 100_000, "[", "{", "'", "-",
           "--force", "9" * 40, "-1", "0o777", "~", "null", "*", "&a", "..",
           "/../../etc/shadow"]  # fmt: skip


@dataclass
class Tally:
    """What one kind's mutants did."""

    mutants: int = 0
    accepted: int = 0
    refused: int = 0
    crashes: list[str] = field(default_factory=list)
    unlocated: list[str] = field(default_factory=list)
    invalid_accepted: list[str] = field(default_factory=list)
    families: Counter[str] = field(default_factory=Counter)


# -- text mutants ---------------------------------------------------------------------------


def _scalar_spans(line: str) -> list[tuple[int, int]]:
    """Where a value after ``key: `` or ``- `` sits on a line (rough, on purpose)."""
    spans = []
    for marker in (": ", "- "):
        at = line.find(marker)
        if at >= 0 and at + len(marker) < len(line):
            spans.append((at + len(marker), len(line)))
    return spans


def text_mutant(text: str, rng: random.Random) -> tuple[str, str]:
    """One random text-level mutation and its name."""
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    op = rng.choice(["delete", "duplicate", "swap", "indent", "dedent", "truncate", "flip",
                     "hostile", "hostile", "hostile", "tab", "colon"])  # fmt: skip
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "swap":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "indent":
        lines[i] = "  " + lines[i]
    elif op == "dedent":
        lines[i] = lines[i][2:] if lines[i].startswith("  ") else lines[i]
    elif op == "truncate":
        return text[: rng.randrange(len(text) + 1)], op
    elif op == "flip":
        if lines[i]:
            k = rng.randrange(len(lines[i]))
            lines[i] = lines[i][:k] + chr(rng.randrange(32, 127)) + lines[i][k + 1 :]
    elif op == "tab":
        lines[i] = "\t" + lines[i]
    elif op == "colon":
        lines[i] = lines[i] + ": :"
    else:
        spans = _scalar_spans(lines[i])
        if spans:
            start, _end = rng.choice(spans)
            value = rng.choice(HOSTILE)
            quoted = rng.random() < 0.5
            lines[i] = lines[i][:start] + (repr(value).replace("\\", "\\\\") if quoted else value)
    return "\n".join(lines), op


# -- known-invalid mutants ------------------------------------------------------------------


def _paths(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    out = [(path, data)]
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*path, i))
    return out


def _free(path: tuple[Any, ...]) -> bool:
    return any(isinstance(p, str) and p in FREE_FORM for p in path)


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for p in path[:-1]:
        data = data[p]
    data[path[-1]] = value


def invalid_mutant(text: str, rng: random.Random) -> tuple[str, str] | None:
    """A mutation that makes any file invalid, written back as YAML; None if none applies."""
    data = yaml.safe_load(text)
    nodes = _paths(data)
    choices: list[Callable[[], str]] = []
    mappings = [(p, v) for p, v in nodes if isinstance(v, dict) and not _free(p)]
    bools = [(p, v) for p, v in nodes if isinstance(v, bool) and p and not _free(p)]
    tops = [k for k, v in data.items() if isinstance(v, list)] if isinstance(data, dict) else []
    if mappings:

        def unknown_key() -> str:
            _p, mapping = rng.choice(mappings)
            mapping["zz_not_a_field"] = 1
            return "unknown key"

        choices.append(unknown_key)
    if bools:

        def not_a_bool() -> str:
            p, _v = rng.choice(bools)
            _set(data, p, rng.choice(["maybe", "false", "yes please", 2]))
            return "boolean replaced"

        choices.append(not_a_bool)
    if tops:

        def top_scalar() -> str:
            data[rng.choice(tops)] = rng.choice(["x", 5, True])
            return "list replaced by a scalar"

        choices.append(top_scalar)
    if not choices:
        return None
    name = rng.choice(choices)()
    return yaml.safe_dump(data, sort_keys=False, width=10_000), name


# -- the run --------------------------------------------------------------------------------


def check(path: Path, kind: str, inventory: Inventory) -> FileCheck:
    """Check a file as ``dcctl validate --kind KIND`` does."""
    return check_file(path, inventory, kind)


def fuzz_kind(kind: str, mutants: int, seed: int, workdir: Path, inventory: Inventory) -> Tally:
    """Mutate ``kind``'s seeds ``mutants`` times; count crashes, unlocated errors, false accepts."""
    rng = random.Random(f"{seed}:{kind}")
    tally = Tally()
    path = workdir / f"{kind.replace(' ', '-')}.yaml"
    for n in range(mutants):
        base = rng.choice(SEEDS[kind])
        made = invalid_mutant(base, rng) if n % 4 == 3 else None
        must_fail = made is not None
        text, family = made if made is not None else text_mutant(base, rng)
        tally.families[family] += 1
        tally.mutants += 1
        path.write_text(text, errors="surrogateescape")
        label = f"{kind} #{n} ({family})"
        try:
            result = check(path, kind, inventory)
        except Exception:  # what the CLI reports as an internal error, exit 70
            tally.crashes.append(f"{label}: {traceback.format_exc(limit=-3)}")
            (workdir / f"crash-{kind.replace(' ', '-')}-{n}.yaml").write_text(text)
            continue
        if result.errors:
            tally.refused += 1
            if any(d.loc is None or d.loc.line < 1 for d in result.errors):
                tally.unlocated.append(f"{label}: {result.errors[0]}")
        else:
            tally.accepted += 1
            if must_fail:
                tally.invalid_accepted.append(label)
                (workdir / f"accepted-{kind.replace(' ', '-')}-{n}.yaml").write_text(text)
    return tally


def main() -> int:
    """Run the fuzz and print a table; exit 1 on any crash, unlocated error or false accept."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=2000, help="per kind (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kind", action="append", choices=list(SEEDS))
    parser.add_argument("--keep", type=Path, help="keep crashing/accepted mutants here")
    args = parser.parse_args()
    loaded = check_inventory(EXAMPLE).inventory
    assert loaded is not None
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")  # fmt: skip
    print(f"{'kind':18} {'mutants':>8} {'accepted':>9} {'refused':>8} {'crash':>6} "
          f"{'unlocated':>10} {'bad-ok':>7} {'s':>6}")  # fmt: skip
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for kind in args.kind or list(SEEDS):
            started = time.perf_counter()
            t = fuzz_kind(kind, args.mutants, args.seed, workdir, loaded)
            took = time.perf_counter() - started
            print(f"{kind:18} {t.mutants:8} {t.accepted:9} {t.refused:8} {len(t.crashes):6} "
                  f"{len(t.unlocated):10} {len(t.invalid_accepted):7} {took:6.1f}")  # fmt: skip
            for line in (t.crashes + t.unlocated + t.invalid_accepted)[:5]:
                print("   ", line.strip().replace("\n", "\n    "))
            bad += len(t.crashes) + len(t.unlocated) + len(t.invalid_accepted)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
