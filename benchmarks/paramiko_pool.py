"""The practical floor for a paramiko tool: a thread pool running one trivial command per host.

Usage: paramiko_pool.py HOSTS_FILE KEY KNOWN_HOSTS FORKS [COMMAND] — prints "ok N/M" (COMMAND
defaults to ``true``; its whole stdout is read, as a tool that keeps the output must). Strict
host-key checking against KNOWN_HOSTS (read once), the one key, user root.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko


def main() -> None:
    """Connect to every host, run ``true``, count successes."""
    hosts_file, key_file, known_file, forks = sys.argv[1:5]
    command = sys.argv[5] if len(sys.argv) > 5 else "true"
    hosts = [h.strip() for h in Path(hosts_file).read_text().splitlines() if h.strip()]
    key = paramiko.Ed25519Key.from_private_key_file(key_file)
    known = paramiko.HostKeys(known_file)

    def one(host: str) -> bool:
        client = paramiko.SSHClient()
        client._host_keys = known  # shared, read once
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                host, username="root", pkey=key, look_for_keys=False, allow_agent=False, timeout=30
            )
            _, stdout, _ = client.exec_command(command)
            stdout.read()
            return stdout.channel.recv_exit_status() == 0
        except Exception as exc:
            print(f"{host}: {exc}", file=sys.stderr)
            return False
        finally:
            client.close()

    with ThreadPoolExecutor(int(forks)) as pool:
        ok = sum(pool.map(one, hosts))
    print(f"ok {ok}/{len(hosts)}")


if __name__ == "__main__":
    main()
