"""The inventory as the source of truth for the tools a site already runs.

One function per format, registered by name (``dcctl inventory export --format NAME``):

- ``ansible``: a YAML inventory (``all.hosts`` with every host's connection settings and
  resolved vars; ``all.children``: dcctl's groups and the physical ones, as ``rack_rack_a1``);
- ``ssh-config``: one ``Host`` block per SSH host (HostName, User, Port, IdentityFile,
  ProxyJump, StrictHostKeyChecking, ConnectTimeout), for ``ssh -F``;
- ``prometheus-sd``: Prometheus ``file_sd_configs`` JSON, one target per host with its rack,
  PDUs, profile, site and groups as labels;
- ``clustershell``: a ClusterShell YAML group file: source ``dcctl`` with the groups, and one
  source per kind of auto group (``@rack:rack-a1`` means the same in both tools);
- ``hosts``: ``/etc/hosts`` lines for hosts whose address is an IP address.

Every export is tested by the real consumer reading it back (``tests/test_export.py``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from dcctl.errors import InputError
from dcctl.inventory.model import Host, Inventory
from dcctl.model.nodeset import NodeSet


@dataclass(frozen=True)
class ExportFormat:
    """A named export: what it is for, and the function that writes it."""

    name: str
    help: str
    write: Callable[[Inventory, ExportOptions], str]


@dataclass(frozen=True)
class ExportOptions:
    """What some formats need (the port node_exporter listens on)."""

    exporter_port: int = 9100


FORMATS: dict[str, ExportFormat] = {}


def register(fmt: ExportFormat) -> None:
    """Declare an export format (once)."""
    if fmt.name in FORMATS:
        raise ValueError(f"export format '{fmt.name}' is registered twice")
    FORMATS[fmt.name] = fmt


def export(inventory: Inventory, name: str, options: ExportOptions | None = None) -> str:
    """The inventory in format ``name``."""
    fmt = FORMATS.get(name)
    if fmt is None:
        raise InputError(f"unknown export format '{name}': {', '.join(FORMATS)}")
    return fmt.write(inventory, options or ExportOptions())


# -- ansible -------------------------------------------------------------------------------

_ANSIBLE_GROUP = re.compile(r"[^A-Za-z0-9_]")


def ansible_group(name: str) -> str:
    """A group name Ansible accepts without warnings (letters, digits, ``_``)."""
    out = _ANSIBLE_GROUP.sub("_", name)
    return f"_{out}" if out[:1].isdigit() else out


def _ansible_vars(host: Host) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if host.transport == "local":
        out["ansible_connection"] = "local"
    else:
        out["ansible_host"] = host.address
        ssh = host.ssh
        if ssh.user:
            out["ansible_user"] = ssh.user
        if ssh.port:
            out["ansible_port"] = ssh.port
        if ssh.identity_file:
            out["ansible_ssh_private_key_file"] = ssh.identity_file
        args = []
        if ssh.proxy_jump and ssh.proxy_jump != "none":
            args.append(f"-o ProxyJump={ssh.proxy_jump}")
        args.append(f"-o StrictHostKeyChecking={_strict(host)}")
        out["ansible_ssh_common_args"] = " ".join(args)
        if ssh.connect_timeout:
            out["ansible_timeout"] = int(ssh.connect_timeout)
    if host.rack:
        out["dcctl_rack"] = host.rack
    if host.profile:
        out["dcctl_profile"] = host.profile
    if host.slurm_node != host.name:
        out["dcctl_slurm_node"] = host.slurm_node
    out.update(host.vars)
    return out


def all_groups(inventory: Inventory) -> dict[str, tuple[str, NodeSet]]:
    """Every group under one flat name: dcctl's own, then ``kind_name`` for auto groups."""
    out: dict[str, tuple[str, NodeSet]] = {}
    for name, group in inventory.groups.items():
        out[name] = (name, group.hosts)
    for kind, groups in inventory.auto_groups.items():
        for name, hosts in groups.items():
            out.setdefault(f"{kind}_{name}", (f"{kind}:{name}", hosts))
    return out


def write_ansible(inventory: Inventory, options: ExportOptions) -> str:
    """A YAML inventory for ``ansible-playbook -i`` (``ansible-inventory --list`` reads it)."""
    del options
    children: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for flat, (original, hosts) in all_groups(inventory).items():
        name = ansible_group(flat)
        if name in ("all", "ungrouped"):
            name = f"dcctl_{name}"
        if name in seen:
            raise InputError(
                f"groups '{seen[name]}' and '{original}' are both Ansible group '{name}'"
            )
        seen[name] = original
        if hosts:
            children[name] = {"hosts": {h: None for h in hosts.sorted}}
    doc = {"all": {
        "hosts": {n: _ansible_vars(h) for n, h in inventory.hosts.items()},
        "children": children,
    }}  # fmt: skip
    return "# dcctl inventory export --format ansible\n" + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False
    )


# -- ssh-config ---------------------------------------------------------------------------


def _strict(host: Host) -> str:
    return "accept-new" if host.ssh.host_key_policy == "accept-new" else "yes"


def _ssh_value(value: str) -> str:
    """A value as ssh_config reads it back: one token, double-quoted when it has a space.

    Control characters and double quotes are refused: a newline would start a directive of its
    own (``ProxyCommand …``) in the file the user then trusts.
    """
    if not value.isprintable() or '"' in value:
        raise InputError(f"ssh-config export: {value!r} cannot be written as one ssh_config value")
    return f'"{value}"' if any(c.isspace() for c in value) else value


def write_ssh_config(inventory: Inventory, options: ExportOptions) -> str:
    """``Host`` blocks for ``ssh -F FILE HOST`` (local-transport hosts are left out)."""
    del options
    lines = ["# dcctl inventory export --format ssh-config"]
    for name, host in inventory.hosts.items():
        if host.transport != "ssh":
            continue
        ssh = host.ssh
        lines += ["", f"Host {name}", f"    HostName {host.address}"]
        if ssh.user:
            lines.append(f"    User {ssh.user}")
        if ssh.port:
            lines.append(f"    Port {ssh.port}")
        if ssh.identity_file:
            lines.append(f"    IdentityFile {_ssh_value(ssh.identity_file)}")
        if ssh.proxy_jump:
            lines.append(f"    ProxyJump {ssh.proxy_jump}")
        lines.append(f"    StrictHostKeyChecking {_strict(host)}")
        if ssh.connect_timeout:
            lines.append(f"    ConnectTimeout {max(1, round(ssh.connect_timeout))}")
    return "\n".join(lines) + "\n"


# -- prometheus-sd ------------------------------------------------------------------------


def write_prometheus_sd(inventory: Inventory, options: ExportOptions) -> str:
    """``file_sd_configs`` JSON: each host's node_exporter target with its place as labels."""
    targets = []
    site_of_rack = {name: rack.site for name, rack in inventory.racks.items()}
    for name, host in inventory.hosts.items():
        address = f"[{host.address}]" if ":" in host.address else host.address
        labels = {"host": name}
        if host.rack:
            labels["rack"] = host.rack
            labels["site"] = site_of_rack.get(host.rack, "")
        if host.pdus:
            labels["pdus"] = ",".join(host.pdus)
        if host.profile:
            labels["profile"] = host.profile
        if host.groups:
            labels["groups"] = "," + ",".join(host.groups) + ","  # match with =~ ".*,h100,.*"
        for kind, domain in sorted(host.domains.items()):
            labels[f"domain_{kind}"] = domain
        targets.append({"targets": [f"{address}:{options.exporter_port}"], "labels": labels})
    return json.dumps(targets, indent=1) + "\n"


# -- clustershell -------------------------------------------------------------------------


def write_clustershell(inventory: Inventory, options: ExportOptions) -> str:
    """A ClusterShell YAML group file (put it in a groups.d ``autodir``)."""
    del options
    doc: dict[str, dict[str, str]] = {"dcctl": {"all": str(inventory.all_hosts)}}
    for name, group in inventory.groups.items():
        if group.hosts:
            doc["dcctl"][name] = str(group.hosts)
    for kind, groups in inventory.auto_groups.items():
        entries = {name: str(hosts) for name, hosts in groups.items() if hosts}
        if entries:
            doc[kind] = entries
    return "# dcctl inventory export --format clustershell\n" + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False
    )


# -- hosts ----------------------------------------------------------------------------------


def write_hosts(inventory: Inventory, options: ExportOptions) -> str:
    """``/etc/hosts`` lines: ``address name`` for hosts whose address is an IP address."""
    del options
    lines = ["# dcctl inventory export --format hosts"]
    for name, host in inventory.hosts.items():
        try:
            ipaddress.ip_address(host.address)
        except ValueError:
            continue
        lines.append(f"{host.address}\t{name}")
    return "\n".join(lines) + "\n"


register(ExportFormat("ansible", "Ansible YAML inventory", write_ansible))
register(ExportFormat("ssh-config", "OpenSSH client configuration (ssh -F)", write_ssh_config))
register(ExportFormat("prometheus-sd", "Prometheus file_sd targets (JSON)", write_prometheus_sd))
register(ExportFormat("clustershell", "ClusterShell YAML groups", write_clustershell))
register(ExportFormat("hosts", "/etc/hosts lines", write_hosts))
