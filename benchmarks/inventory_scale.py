"""Benchmark: load + validate a generated 10,000-host inventory, against ansible-inventory.

Generates one site of 5 rooms × 10 rows × 25 racks × 8 HGX H100 nodes (10,000 hosts, 1,250
racks, 2,500 PDUs, 100 feeds, 1,250 leaf-switch domains), in two dcctl forms:

* ``explicit``: one host entry per host with its own address (the worst case for the reader);
* ``ranged``: one host entry per rack (``gpu[00001-00008]`` with an address pattern).

and the equivalent Ansible YAML inventory (every host with ``ansible_host``; rack, row, room, site,
PDU and leaf-switch groups; group vars). It times, each as the median of several runs:

* dcctl in-process ``check_inventory`` (load + every validation),
* the ``dcctl -q inventory validate`` command (a new process: interpreter start-up included),
* ``ansible-inventory -i FILE --list`` (ansible-core in its own venv, created on first run in
  ``benchmarks/.venvs/ansible``; pass ``--no-ansible`` to skip),

and prints the figures and the ratio. Run by hand: ``python benchmarks/inventory_scale.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venvs" / "ansible"
ROOMS, ROWS, RACKS, NODES = 5, 10, 25, 8


def layout(hosts: int) -> list[tuple[int, int, int, list[int]]]:
    """(room, row, rack, host numbers) for every rack, filling rooms/rows/racks in order."""
    racks = []
    n = 1
    rack_no = 0
    while n <= hosts:
        room, rest = divmod(rack_no, ROWS * RACKS)
        row = rest // RACKS
        members = list(range(n, min(n + NODES, hosts + 1)))
        racks.append((room + 1, row + 1, rack_no + 1, members))
        n += NODES
        rack_no += 1
    return racks


def address(n: int) -> str:
    """A unique management address for host number n."""
    return f"10.{n // 65536 + 1}.{(n // 256) % 256}.{n % 256}"


def dcctl_inventory(hosts: int, explicit: bool) -> str:
    """The dcctl YAML text."""
    out = [
        "version: 1",
        "defaults:",
        "  ssh: {user: ops, identity_file: ~/.ssh/dcctl_ed25519, host_key_policy: strict}",
        "  vars: {ntp_server: ntp.example.net}",
        "profiles:",
        "  h100-8x:",
        "    gpu: {model: NVIDIA H100 80GB HBM3, count: 8, memory_gib: 80, tdp_w: 700,",
        "          power_limit_w: {min: 200, default: 700, max: 700}}",
        "    nic: {count: 2, speed_gbps: 100, mtu: 9000}",
        "    infiniband: {ports: 8, rate_gbps: 400}",
        "    baseline_w: 4600",
        "groups:",
        "  h100: {hosts: 'gpu*', vars: {nvidia_driver: '580.159.04'}}",
        "  canary: {hosts: 'gpu[00001,00009,00017]', vars: {rollout_wave: 0}}",
        "hosts:",
    ]
    racks = layout(hosts)
    for _, _, _, members in racks:
        if explicit:
            for n in members:
                out.append(f"  - {{name: gpu{n:05d}, address: {address(n)}, profile: h100-8x}}")
        else:
            first, last = members[0], members[-1]
            base = address(first).rsplit(".", 1)[0]
            lo, hi = first % 256, last % 256
            if hi < lo or address(last).rsplit(".", 1)[0] != base:  # crosses a /24: split
                for n in members:
                    out.append(f"  - {{name: gpu{n:05d}, address: {address(n)}, profile: h100-8x}}")
                continue
            out.append(
                f"  - {{name: 'gpu[{first:05d}-{last:05d}]', address: '{base}.[{lo}-{hi}]', "
                "profile: h100-8x}"
            )
    out += ["sites:", "  - name: dc1", "    feeds:"]
    for room in range(1, ROOMS + 1):
        for row in range(1, ROWS + 1):
            for side in "ab":
                out.append(
                    f"      - {{name: feed-{room}-{row}-{side}, voltage: 415, amps: 2000, "
                    "phase: three, max_utilization: 80}"
                )
    out.append("    rooms:")
    by_room: dict[int, dict[int, list[tuple[int, list[int]]]]] = {}
    for room, row, rack, members in racks:
        by_room.setdefault(room, {}).setdefault(row, []).append((rack, members))
    for room, rows in by_room.items():
        out += [f"      - name: hall-{room}", "        rows:"]
        for row, rack_list in rows.items():
            out += [f"          - name: row-{room}-{row}", "            racks:"]
            for rack, members in rack_list:
                hosts_pat = f"gpu[{members[0]:05d}-{members[-1]:05d}]"
                out += [
                    f"              - name: rack-{rack:04d}",
                    f"                hosts: '{hosts_pat}'",
                    "                power_budget_w: 90000",
                    "                pdus:",
                    f"                  - {{name: pdu-{rack:04d}-a, feed: feed-{room}-{row}-a, "
                    f"max_w: 57500, hosts: '{hosts_pat}'}}",
                    f"                  - {{name: pdu-{rack:04d}-b, feed: feed-{room}-{row}-b, "
                    f"max_w: 57500, hosts: '{hosts_pat}'}}",
                ]
    out.append("domains:")
    for _, _, rack, members in racks:
        out.append(
            f"  - {{name: leaf-{rack:04d}, kind: leaf_switch, "
            f"hosts: 'gpu[{members[0]:05d}-{members[-1]:05d}]'}}"
        )
    return "\n".join(out) + "\n"


def ansible_inventory(hosts: int) -> str:
    """The equivalent Ansible YAML inventory."""
    racks = layout(hosts)
    out = [
        "all:",
        "  vars: {ansible_user: ops, ansible_ssh_private_key_file: ~/.ssh/dcctl_ed25519,",
        "         ntp_server: ntp.example.net}",
        "  children:",
        "    h100:",
        "      vars: {nvidia_driver: '580.159.04', gpu_model: NVIDIA H100 80GB HBM3, gpu_count: 8}",
        "      children: {site_dc1: {}}",
        "    canary:",
        "      vars: {rollout_wave: 0}",
        "      hosts: {gpu00001: {}, gpu00009: {}, gpu00017: {}}",
    ]
    by_room: dict[int, dict[int, list[tuple[int, list[int]]]]] = {}
    for room, row, rack, members in racks:
        by_room.setdefault(room, {}).setdefault(row, []).append((rack, members))
    out += ["    site_dc1:", "      children:"]
    for room, rows in by_room.items():
        out += [f"        room_hall_{room}:", "          children:"]
        for row, rack_list in rows.items():
            out += [f"            row_{room}_{row}:", "              children:"]
            for rack, members in rack_list:
                out += [
                    f"                rack_{rack:04d}:",
                    "                  vars: {power_budget_w: 90000}",
                    "                  hosts:",
                ]
                for n in members:
                    out.append(f"                    gpu{n:05d}: {{ansible_host: {address(n)}}}")
    for room, rows in by_room.items():
        for row, rack_list in rows.items():
            for rack, members in rack_list:
                for side in "ab":
                    out += [
                        f"    pdu_{rack:04d}_{side}:",
                        f"      vars: {{feed: feed_{room}_{row}_{side}, max_w: 57500}}",
                        "      hosts:",
                    ]
                    out += [f"        gpu{n:05d}: {{}}" for n in members]
                out += [f"    leaf_{rack:04d}:", "      hosts:"]
                out += [f"        gpu{n:05d}: {{}}" for n in members]
    return "\n".join(out) + "\n"


def median_time(fn, repeat: int) -> tuple[float, list[float]]:
    """Median wall seconds of fn() over repeat runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def ensure_ansible() -> Path:
    """ansible-inventory from a private venv, created on first use."""
    exe = VENV / "bin" / "ansible-inventory"
    if not exe.exists():
        print(f"creating {VENV} with ansible-core (first run only)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "ansible-core"], check=True)
    return exe


def run_quiet(cmd: list[str], env: dict[str, str] | None = None) -> None:
    """Run a command, discarding output; fail loudly if it fails."""
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")


def main() -> None:
    """Generate, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-ansible", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()

    sys.path.insert(0, str(HERE.parent))
    from dcctl.inventory.loader import check_inventory

    args.out.mkdir(parents=True, exist_ok=True)
    files = {
        "explicit": args.out / "scale-explicit.yaml",
        "ranged": args.out / "scale-ranged.yaml",
    }
    files["explicit"].write_text(dcctl_inventory(args.hosts, explicit=True))
    files["ranged"].write_text(dcctl_inventory(args.hosts, explicit=False))
    ansible_file = args.out / "scale-ansible.yaml"
    ansible_file.write_text(ansible_inventory(args.hosts))

    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    results: dict[str, float] = {}
    for form, path in files.items():
        check = check_inventory(path)
        if check.errors:
            raise SystemExit(f"generated {form} inventory is invalid: {check.errors[:3]}")
        hosts = len(check.inventory.hosts)
        med, times = median_time(lambda p=path: check_inventory(p), args.repeat)
        results[f"dcctl_{form}_inprocess_s"] = med
        size = path.stat().st_size
        print(
            f"dcctl load+validate ({form:8s}, {hosts} hosts, {len(check.inventory.racks)} racks, "
            f"{len(check.inventory.pdus)} PDUs, {size / 1e6:.1f} MB): median {med:.3f} s "
            f"(min {min(times):.3f}, max {max(times):.3f})"
        )
    dcctl_cmd = [sys.executable, "-m", "dcctl", "-q", "inventory", "validate"]
    for form, path in files.items():
        med, _ = median_time(lambda p=path: run_quiet([*dcctl_cmd, str(p)]), 3)
        results[f"dcctl_{form}_cli_s"] = med
        print(f"dcctl inventory validate command ({form:8s}): median {med:.3f} s (new process)")
    if not args.no_ansible:
        exe = ensure_ansible()
        env = {**os.environ, "ANSIBLE_INVENTORY_ENABLED": "yaml", "ANSIBLE_NOCOLOR": "1"}
        run_quiet([str(exe), "-i", str(ansible_file), "--list"], env)  # warm caches
        med, _ = median_time(
            lambda: run_quiet([str(exe), "-i", str(ansible_file), "--list"], env), 3
        )
        results["ansible_inventory_list_s"] = med
        version = subprocess.run(
            [str(VENV / "bin" / "python"), "-c", "import ansible; print(ansible.__version__)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"ansible-inventory --list (ansible-core {version}): median {med:.3f} s")
        print(
            f"ratio ansible-inventory / dcctl validate command (explicit): "
            f"{med / results['dcctl_explicit_cli_s']:.1f}x"
        )
    print(json.dumps({k: round(v, 3) for k, v in results.items()}))


if __name__ == "__main__":
    main()
