"""Loading an inventory: read every file, check everything in one pass, build the model.

``check_inventory`` never raises for bad input: it returns every diagnostic found, each with its
file:line:column and field path. ``load_inventory`` raises :class:`InventoryError` with the same
diagnostics when there is any error.
"""

from __future__ import annotations

import gc
import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dcctl.errors import InputError, InventoryError, InventoryNotFoundError
from dcctl.inventory.model import Host, Inventory
from dcctl.inventory.power import PowerSummary, check_power, summarize
from dcctl.inventory.read_hosts import (
    MAX_HOSTS_ENV,
    read_defaults,
    read_group_decls,
    read_host_entries,
)
from dcctl.inventory.read_physical import read_physical
from dcctl.inventory.read_profiles import read_profiles
from dcctl.inventory.resolve import (
    build_hosts,
    check_profile_refs,
    define_hosts,
    physical_groups,
    resolve_groups,
)
from dcctl.inventory.scheduler import check_schedulers
from dcctl.inventory.sources import read_documents
from dcctl.model.nodeset import MAX_EXPANSION, NodeSet
from dcctl.source.diagnostics import Diagnostic, Diagnostics, Loc

ENV_VAR = "DCCTL_INVENTORY"
DEFAULT_FILE = "inventory.yaml"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one inventory: the model (when valid) and every diagnostic."""

    display: str
    inventory: Inventory | None
    diagnostics: list[Diagnostic]
    power: PowerSummary | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings."""
        return [d for d in self.diagnostics if not d.is_error]


def find_inventory(
    explicit: str | None, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str:
    """The inventory path to use: explicit, else ``$DCCTL_INVENTORY``, else ``./inventory.yaml``.

    Raises :class:`InventoryNotFoundError` naming what was tried.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if explicit:
        return explicit
    from_env = env.get(ENV_VAR)
    if from_env:
        return from_env
    if (cwd / DEFAULT_FILE).is_file():
        return DEFAULT_FILE
    raise InventoryNotFoundError(
        f"no inventory: pass -i/--inventory FILE, set ${ENV_VAR}, "
        f"or create ./{DEFAULT_FILE} (neither ${ENV_VAR} nor ./{DEFAULT_FILE} exists)"
    )


def max_hosts_from(env: Mapping[str, str] | None = None) -> int:
    """The hosts one inventory file may define: ``$DCCTL_MAX_HOSTS``, else 200,000.

    Raises :class:`InputError` when the variable is not a positive integer.
    """
    env = os.environ if env is None else env
    text = env.get(MAX_HOSTS_ENV, "").strip()
    if not text:
        return MAX_EXPANSION
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"${MAX_HOSTS_ENV} must be a positive integer, got {text!r}")
    return int(text)


def check_inventory(path: str | os.PathLike[str], *, max_hosts: int = MAX_EXPANSION) -> CheckResult:
    """Read and check an inventory, collecting every problem in one pass.

    ``max_hosts`` caps the hosts one file (and one range) may expand to, so a typo such as
    ``gpu[000001-999999]`` is an error at its line, not a minute of work and a gigabyte.
    """
    # Loading builds a large graph of long-lived objects and almost no garbage cycles; the
    # cyclic collector's passes over it cost about half the load time at 10,000 hosts.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(os.fspath(path), max_hosts)
    finally:
        if enabled:
            gc.enable()


def _check(display: str, max_hosts: int) -> CheckResult:
    diags = Diagnostics()
    file = Path(display)
    if not file.exists():
        diags.error(None, "", f"{display}: no such file")
        return CheckResult(display, None, diags.items)
    if file.is_dir():
        diags.error(None, "", f"{display}: is a directory, not an inventory file")
        return CheckResult(display, None, diags.items)
    documents = read_documents(file, display, diags)
    if not documents:
        if not diags.errors:
            diags.error(Loc(display, 1, 1), "", "inventory file is empty")
        return CheckResult(display, None, diags.sorted())

    profiles = read_profiles(documents, diags)
    defaults = read_defaults(documents, diags)
    entries = read_host_entries(documents, diags, max_hosts)
    decls = read_group_decls(documents, diags)
    defined = define_hosts(entries, diags)
    tree = read_physical(documents, defined, diags)
    auto = physical_groups(tree)
    groups = resolve_groups(decls, entries, defined, auto, diags)
    layers = [defaults, *(d.layer for d in decls.values()), *(e.layer for e in entries)]
    check_profile_refs(layers, profiles, diags)
    hosts = build_hosts(defined, defaults, decls, groups, profiles, tree)

    by_profile: dict[str, set[str]] = defaultdict(set)
    by_transport: dict[str, set[str]] = defaultdict(set)
    for host in hosts.values():
        if host.profile:
            by_profile[host.profile].add(host.name)
        by_transport[host.transport].add(host.name)
    auto["profile"] = {name: NodeSet.from_names(h) for name, h in by_profile.items()}
    auto["transport"] = {name: NodeSet.from_names(h) for name, h in by_transport.items()}

    summary = summarize(hosts, profiles, tree.racks, tree.pdus)
    check_power(summary, tree.feeds, tree.pdus, tree.racks, hosts, diags)
    _check_addresses(hosts, diags)
    check_schedulers(hosts, diags)
    if not hosts and not diags.errors:
        diags.warning(Loc(display, 1, 1), "hosts", "the inventory defines no hosts")

    items = diags.sorted()
    if diags.errors:
        return CheckResult(display, None, items)
    inventory = Inventory(
        files=tuple(doc.source.display for doc in documents),
        hosts=hosts,
        groups=groups,
        auto_groups=auto,
        profiles=profiles,
        sites=tree.sites,
        rooms=tree.rooms,
        rows=tree.rows,
        racks=tree.racks,
        feeds=tree.feeds,
        pdus=tree.pdus,
        domains=tree.domains,
        warnings=diags.warnings,
    )
    return CheckResult(display, inventory, items, summary)


def _check_addresses(hosts: Mapping[str, Host], diags: Diagnostics) -> None:
    """Warn when two SSH hosts share an address and port (usually a copy-paste slip)."""
    seen: dict[tuple[str, int | None], str] = {}
    for host in hosts.values():
        if host.transport != "ssh":
            continue
        key = (host.address, host.ssh.port)
        other = seen.get(key)
        if other is not None:
            diags.warning(
                host.settings["address"].loc or host.loc,
                "address",
                f"host '{host.name}' has the same address as '{other}' ({key[0]})",
            )
            continue
        seen[key] = host.name


def load_inventory(path: str | os.PathLike[str], *, max_hosts: int = MAX_EXPANSION) -> Inventory:
    """Load an inventory or raise :class:`InventoryError` carrying every diagnostic."""
    result = check_inventory(path, max_hosts=max_hosts)
    if result.inventory is None:
        raise InventoryError(result.diagnostics)
    return result.inventory
