"""Benchmark: probing N real sshd hosts, each in its own network namespace, against other tools.

For N in --hosts (default 50,100,200), in one run, with the same client key, the same
known_hosts and strict host-key checking for every tool:

* ``dcctl probe`` — every probe (gpu, network, system, storage, security), one round trip per host;
* a minimal paramiko thread pool running ``true`` (the practical floor for a paramiko tool);
* ``pyinfra INVENTORY exec -- true`` (pyinfra from PyPI in benchmarks/.venvs/pyinfra);
* plain ``ssh`` in parallel with ``xargs -P N`` (OpenSSH's default key exchange);
* ``ansible all -m shell -a true -f N`` (ansible-core in benchmarks/.venvs/ansible).

Prints wall time, controller CPU time (user+sys of the tool and its children) and peak RSS
(GNU time), and ratios. Needs root (namespaces, sshd). The hosts are sshd processes on this
machine, so they share its 2 cores with the controller; each host's nvidia-smi is a shell
script replaying the recorded H100 capture (8 GPUs) with ``cat``, the cheapest honest stand-in.

Run by hand: ``.venv/bin/python benchmarks/fanout.py`` (the venvs are created on first use).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from dcctl.probes.gpu_query import query_command  # noqa: E402
from tests.sshd_harness import FIXTURES, REPLAY, SshServer, new_key  # noqa: E402

BRIDGE = "dcbr0"
NET = "10.231"
VENVS = HERE / ".venvs"


def address(i: int) -> str:
    """Address of host i (0-based) on the bench bridge."""
    return f"{NET}.{1 + i // 250}.{2 + i % 250}"


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing output."""
    return subprocess.run(args, check=check, capture_output=True, text=True)


class Lab:
    """N namespaces on a bridge, an sshd in each."""

    def __init__(self, n: int, root: Path) -> None:
        """Plan a lab of n hosts under root."""
        self.n = n
        self.root = root
        self.home = root / "home"
        self.servers: list[SshServer] = []

    def up(self) -> None:
        """Create namespaces, links and servers."""
        self.down(quiet=True)
        (self.home / ".ssh").mkdir(parents=True, exist_ok=True)
        key = self.home / ".ssh" / "id_ed25519"
        if not key.exists():
            new_key(key)
        self.client_pub = f"ssh-ed25519 {new_pub(key)}"
        batch = [f"link add {BRIDGE} type bridge", f"addr add {NET}.0.1/16 dev {BRIDGE}",
                 f"link set {BRIDGE} up"]  # fmt: skip
        for i in range(self.n):
            ns, outer, inner = f"dcb{i}", f"dcv{i}", f"dcp{i}"
            batch += [
                f"netns add {ns}",
                f"link add {outer} type veth peer name {inner}",
                f"link set {inner} netns {ns}",
                f"link set {outer} master {BRIDGE} up",
            ]
        script = self.root / "ip.batch"
        script.write_text("\n".join(batch) + "\n")
        sh("ip", "-batch", str(script))
        for i in range(self.n):
            inside = f"link set lo up\naddr add {address(i)}/16 dev dcp{i}\nlink set dcp{i} up\n"
            subprocess.run(
                ["ip", "-n", f"dcb{i}", "-batch", "-"], input=inside, text=True, check=True
            )
        replay = self.render_replay()
        for i in range(self.n):
            server = SshServer(
                f"h{i:03d}", address(i), self.root / f"h{i:03d}", [self.client_pub], nvidia=None,
                port=22, netns=f"dcb{i}", shared_host_key=self.root / "host_key",
            )  # fmt: skip
            (server.root / "bin").mkdir(parents=True, exist_ok=True)
            shutil.copy(replay, server.root / "bin" / "nvidia-smi")
            server.start()
            self.servers.append(server)
        line = f"ssh-ed25519 {self.servers[0].host_key.get_base64()}"
        known = "\n".join(f"{address(i)} {line}" for i in range(self.n))
        (self.home / ".ssh" / "known_hosts").write_text(known + "\n")

    def render_replay(self) -> Path:
        """A shell nvidia-smi that cats outputs rendered once from the recorded capture."""
        out = self.root / "replay"
        out.mkdir(exist_ok=True)
        python_replay = out / "render.py"
        python_replay.write_text(
            REPLAY.format(
                python=sys.executable,
                capture=str(FIXTURES),
                gpus=8,
                mode="replay",
                overrides={},
                override_gpu=0,
                apps=[],
            )
        )
        query = query_command().split()[1:]
        for name, args in (("query", query), ("topo", ["topo", "-m"]), ("xml", ["-q", "-x"])):
            text = sh(sys.executable, str(python_replay), *args).stdout
            (out / name).write_text(text)
        script = out / "nvidia-smi"
        script.write_text(
            textwrap.dedent(
                f"""\
                #!/bin/sh
                case "$*" in
                  *--query-gpu=*) cat {out}/query ;;
                  *--query-compute-apps=*) : ;;
                  "topo -m") cat {out}/topo ;;
                  "-q -x") cat {out}/xml ;;
                esac
                """
            )
        )
        script.chmod(0o755)
        return script

    def down(self, quiet: bool = False) -> None:
        """Stop servers, delete namespaces and the bridge."""
        for server in self.servers:
            server.stop()
        self.servers = []
        names = sh("ip", "netns", "list", check=False).stdout.split()
        links = sh("ip", "-o", "link", "show", check=False).stdout.splitlines()
        batch = [f"netns del {n}" for n in names if n.startswith("dcb")]
        for line in links:
            name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
            if name.startswith("dcv"):
                batch.append(f"link del {name}")
        if batch:
            script = Path(tempfile.mkstemp()[1])
            script.write_text("\n".join(batch) + "\n")
            sh("ip", "-force", "-batch", str(script), check=False)
            script.unlink()
        sh("ip", "link", "del", BRIDGE, check=False)


def new_pub(key: Path) -> str:
    """Base64 of a public key file written by ssh-keygen."""
    return Path(f"{key}.pub").read_text().split()[1]


def ensure_venv(name: str, package: str) -> Path:
    """A private venv with one package (created on first use)."""
    venv = VENVS / name
    if not (venv / "bin" / "python").exists():
        print(f"creating {venv} with {package} (first run only)...", flush=True)
        sh(sys.executable, "-m", "venv", str(venv))
        sh(str(venv / "bin" / "pip"), "install", "-q", package)
    return venv / "bin"


def timed(cmd: list[str], env: dict[str, str], stdout: Path) -> dict[str, float]:
    """Wall, CPU (user+sys incl. children) and peak RSS of a command, via GNU time."""
    fmt = "%e %U %S %M"
    with stdout.open("w") as out:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", fmt, "-o", str(stdout) + ".time", *cmd],
            stdout=out, stderr=subprocess.PIPE, env=env, text=True,
        )  # fmt: skip
    wall, user, system, rss = Path(str(stdout) + ".time").read_text().split()[-4:]
    return {
        "wall_s": float(wall),
        "cpu_s": float(user) + float(system),
        "peak_rss_mb": int(rss) / 1024,
        "rc": proc.returncode,
        "stderr": proc.stderr[-500:],
    }


def probe_script(work: Path) -> Path:
    """dcctl's own probe script (every probe), the same bytes for every tool, on every host.

    The hosts share this machine's file system, so writing it once places it on every host.
    """
    from dcctl.probes.gather import ProbeScript
    from dcctl.probes.registry import select_probes

    script = ProbeScript.build(select_probes(None))
    path = work / "probe.sh"
    path.write_text(script.command.argv[-1])
    return path


def tools(lab: Lab, n: int, work: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Command lines of every tool for the first n hosts: the probe script, then ``true``."""
    home = lab.home
    key = home / ".ssh" / "id_ed25519"
    known = home / ".ssh" / "known_hosts"
    hosts = [address(i) for i in range(n)]
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["HOME"] = str(home)
    (work / "hosts.txt").write_text("\n".join(hosts) + "\n")
    script = probe_script(work)
    run_script = f"sh {script}"

    inventory = work / "inventory.yaml"
    inventory.write_text(
        "defaults:\n"
        f"  ssh: {{user: root, identity_file: {key}, host_key_policy: strict,\n"
        "         connect_timeout: 30}\n"
        "hosts:\n" + "".join(f"  - {{name: h{i:03d}, address: {a}}}\n" for i, a in enumerate(hosts))
    )
    ssh_opts = (
        f"-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i {key} "
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known} -o ConnectTimeout=30"
    )
    (work / "ansible.ini").write_text(
        "[all]\n" + "\n".join(hosts) + "\n[all:vars]\nansible_user=root\n"
        f"ansible_ssh_private_key_file={key}\n"
        f"ansible_ssh_common_args='-F /dev/null -o UserKnownHostsFile={known} "
        "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    (work / "pyinfra_inventory.py").write_text(f"hosts = {hosts!r}\n")
    ansible_env = dict(env, ANSIBLE_HOST_KEY_CHECKING="True", ANSIBLE_NOCOLOR="1")
    dcctl = [sys.executable, "-m", "dcctl", "-q", "-i", str(inventory), "-o", "json"]
    pool = [sys.executable, str(HERE / "paramiko_pool.py"), str(work / "hosts.txt"), str(key),
            str(known), str(n)]  # fmt: skip
    pyinfra = [str(ensure_venv("pyinfra", "pyinfra") / "pyinfra"),
               str(work / "pyinfra_inventory.py"), "exec", "-y", "--parallel", str(n),
               "--data", "ssh_user=root", "--data", f"ssh_key={key}",
               "--data", f"ssh_known_hosts_file={known}",
               "--data", "ssh_strict_host_key_checking=yes", "--"]  # fmt: skip
    ansible = [str(ensure_venv("ansible", "ansible-core") / "ansible"), "all", "-i",
               str(work / "ansible.ini"), "-f", str(n)]  # fmt: skip

    def xargs(command: str, kex: str = "") -> list[str]:
        extra = f" -o KexAlgorithms={kex}" if kex else ""
        return ["sh", "-c", f"xargs -P {n} -I{{}} ssh {ssh_opts}{extra} root@{{}} {command} "
                f"> /dev/null < {work}/hosts.txt"]  # fmt: skip

    out: dict[str, tuple[list[str], dict[str, str]]] = {
        # The probe script on every host (dcctl probe sends it inline and parses everything).
        "dcctl probe (script)": ([*dcctl, "probe", "--forks", str(n)], env),
        "dcctl run (script)": (
            [*dcctl, "run", "-l", "all", "--forks", str(n), "--", "sh", str(script)],
            env,
        ),
        "paramiko pool (script)": ([*pool, run_script], env),
        "pyinfra exec (script)": ([*pyinfra, run_script], env),
        "ssh + xargs -P (script)": (xargs(run_script), env),
        "ssh curve25519 (script)": (xargs(run_script, "curve25519-sha256"), env),
        "ansible -m raw (script)": ([*ansible, "-m", "raw", "-a", run_script], ansible_env),
        "ansible -m shell (script)": ([*ansible, "-m", "shell", "-a", run_script], ansible_env),
        # A trivial command.
        "dcctl run (true)": ([*dcctl, "run", "-l", "all", "--forks", str(n), "--", "true"], env),
        "paramiko pool (true)": ([*pool, "true"], env),
        "ssh + xargs -P (true)": (xargs("true"), env),
    }
    return out


def check_dcctl(path: Path, n: int, probes: int) -> str:
    """How many hosts the dcctl run read fully."""
    try:
        docs = json.loads(path.read_text())
    except json.JSONDecodeError:
        return "no JSON"
    hosts = docs["hosts"] if isinstance(docs, dict) else docs
    ok = sum(1 for d in hosts if d["status"] == "ok" and len(d["results"]) == probes)
    return f"{ok}/{n} ok"


def check_run(path: Path, n: int) -> str:
    """How many hosts ``dcctl run`` reached with exit status 0."""
    try:
        docs = json.loads(path.read_text())
    except json.JSONDecodeError:
        return "no JSON"
    ok = sum(1 for h in docs["hosts"] if h["status"] == "ok" and h["rc"] == 0)
    return f"{ok}/{n} ok"


def main() -> None:
    """Set up the lab, time every tool for each N, print figures and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="50,100,200")
    parser.add_argument("--tools", default="dcctl,paramiko,pyinfra,ssh,ansible")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; medians shown")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "fanout")
    parser.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: network namespaces and sshd")
    sizes = [int(x) for x in args.hosts.split(",")]
    wanted = args.tools.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    lab = Lab(max(sizes), args.out / "lab")
    ssh_version = sh("ssh", "-V", check=False).stderr.strip()
    python = platform.python_version()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {python}, {ssh_version}")
    start = time.monotonic()
    lab.up()
    print(f"lab: {lab.n} sshd hosts in network namespaces up in {time.monotonic() - start:.1f} s")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    try:
        for n in sizes:
            work = args.out / f"n{n}"
            work.mkdir(exist_ok=True)
            figures: dict[str, dict[str, float]] = {}
            for name, (cmd, env) in tools(lab, n, work).items():
                if not any(name.startswith(w) for w in wanted):
                    continue
                slug = name.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "")
                result_file = work / f"{slug}.out"
                runs = []
                for _ in range(args.repeat):
                    runs.append(timed(cmd, env, result_file))
                runs.sort(key=lambda f: f["wall_s"])
                figures[name] = dict(runs[len(runs) // 2])
                figures[name]["runs"] = [round(f["wall_s"], 2) for f in runs]  # type: ignore[assignment]
                note = ""
                if name.startswith("dcctl probe"):
                    note = check_dcctl(result_file, n, 6)
                elif name.startswith("dcctl run"):
                    note = check_run(result_file, n)
                elif name.startswith("paramiko"):
                    note = result_file.read_text().strip()
                elif figures[name]["rc"] != 0:
                    note = f"rc={figures[name]['rc']} {figures[name]['stderr'][-200:]!r}"
                figures[name]["note"] = note  # type: ignore[assignment]
            floors = {"script": figures.get("paramiko pool (script)", {}),
                      "true": figures.get("paramiko pool (true)", {})}  # fmt: skip
            print(f"\nN = {n} hosts")
            print(f"{'tool':28s} {'wall s':>8s} {'CPU s':>8s} {'CPU ms/host':>12s} "
                  f"{'peak MB':>8s} {'× pool':>8s}  runs; note")  # fmt: skip
            for name, f in figures.items():
                floor = floors["script" if "(script)" in name else "true"].get("wall_s")
                ratio = f"{f['wall_s'] / floor:.2f}" if floor else "-"
                per_host = 1000 * f["cpu_s"] / n
                print(
                    f"{name:28s} {f['wall_s']:8.2f} {f['cpu_s']:8.2f} {per_host:12.1f} "
                    f"{f['peak_rss_mb']:8.0f} {ratio:>8s}  {f['runs']}; {f['note']}"
                )
            summary[str(n)] = {
                k: {m: v[m] for m in ("wall_s", "cpu_s", "peak_rss_mb")} for k, v in figures.items()
            }
    finally:
        if not args.keep:
            lab.down()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
