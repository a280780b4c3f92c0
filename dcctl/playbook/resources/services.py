"""``service`` (systemd), ``package`` (apt or dnf), ``kernel_module`` and ``mtu``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dcctl.errors import PlaybookError
from dcctl.model.command import Command
from dcctl.playbook.model import Change, Outcome
from dcctl.playbook.resources.base import read_failure
from dcctl.playbook.resources.types import FieldSpec, ResourceType, register
from dcctl.probes.base import Output


def _text(output: Output | None) -> str:
    return output.text.strip() if output is not None else ""


@dataclass(frozen=True)
class ServiceResource:
    """A systemd unit enabled (or not) and active (or not); None leaves that side alone."""

    name: str
    enabled: bool | None = True
    active: bool | None = True

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``service nvidia-persistenced``."""
        return f"service {self.name}"

    def reads(self) -> dict[str, Command]:
        """is-enabled and is-active."""
        return {
            "enabled": Command.of(["systemctl", "is-enabled", "--", self.name]),
            "active": Command.of(["systemctl", "is-active", "--", self.name]),
        }

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Enable/disable and start/stop as needed."""
        for key in ("enabled", "active"):
            output = outputs.get(key)
            if output is None or output.missing_tool or output.timed_out:
                why = "no output" if output is None else read_failure(output)
                raise PlaybookError(f"cannot read the state of {self.name}: {why}")
        enabled_now = _text(outputs.get("enabled"))
        active_now = _text(outputs.get("active"))
        commands, before, after = [], [], []
        if self.enabled is not None and (enabled_now == "enabled") != self.enabled:
            verb = "enable" if self.enabled else "disable"
            commands.append(Command.of(["systemctl", verb, "--", self.name]))
            before.append(enabled_now or "?")
            after.append("enabled" if self.enabled else "disabled")
        if self.active is not None and (active_now == "active") != self.active:
            verb = "start" if self.active else "stop"
            commands.append(Command.of(["systemctl", verb, "--", self.name]))
            before.append(active_now or "?")
            after.append("active" if self.active else "inactive")
        if not commands:
            return Outcome(self.label(), None, f"{enabled_now}, {active_now}")
        return Outcome(
            self.label(),
            Change(
                self.label(),
                ", ".join(before),
                ", ".join(after),
                "unit state differs",
                tuple(commands),
            ),
        )


@dataclass(frozen=True)
class PackageResource:
    """A package installed or absent, with apt (dpkg) or dnf (rpm), whichever the host has."""

    name: str
    present: bool = True

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``package ibverbs-utils``."""
        return f"package {self.name}"

    def reads(self) -> dict[str, Command]:
        """Dpkg and rpm views of the package."""
        return {
            "dpkg": Command.of(["dpkg-query", "-W", "-f", "${Status}", "--", self.name]),
            "rpm": Command.of(["rpm", "-q", "--", self.name]),
        }

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Install or remove with the host's package manager."""
        dpkg, rpm = outputs.get("dpkg"), outputs.get("rpm")
        if dpkg is not None and not dpkg.missing_tool:
            installed = dpkg.ok and "install ok installed" in dpkg.text
            install = [
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "install",
                "-y",
                "--",
                self.name,
            ]
            remove = [
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "remove",
                "-y",
                "--",
                self.name,
            ]
        elif rpm is not None and not rpm.missing_tool:
            installed = rpm.ok
            install = ["dnf", "install", "-y", "--", self.name]
            remove = ["dnf", "remove", "-y", "--", self.name]
        else:
            raise PlaybookError("cannot tell whether it is installed: no dpkg or rpm on the host")
        if installed == self.present:
            return Outcome(self.label(), None, "installed" if installed else "absent")
        command = Command.of(install if self.present else remove)
        return Outcome(
            self.label(),
            Change(
                self.label(),
                "installed" if installed else "absent",
                "installed" if self.present else "absent",
                "package state differs",
                (command,),
            ),
        )


@dataclass(frozen=True)
class KernelModuleResource:
    """A kernel module loaded (``modprobe``) or unloaded (``modprobe -r``), now."""

    name: str
    present: bool = True

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``kernel_module nvidia_peermem``."""
        return f"kernel_module {self.name}"

    def reads(self) -> dict[str, Command]:
        """/proc/modules."""
        return {"modules": Command.of(["cat", "/proc/modules"])}

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Load or unload."""
        modules = outputs.get("modules")
        if modules is None or not modules.ok:
            why = read_failure(modules) if modules is not None else "no output"
            raise PlaybookError(f"cannot read /proc/modules: {why}")
        loaded = self.name.replace("-", "_") in {
            line.split()[0] for line in _text(outputs.get("modules")).splitlines() if line.strip()
        }
        if loaded == self.present:
            return Outcome(self.label(), None, "loaded" if loaded else "not loaded")
        command = Command.of(
            ["modprobe", "--", self.name] if self.present else ["modprobe", "-r", "--", self.name]
        )
        return Outcome(
            self.label(),
            Change(
                self.label(),
                "loaded" if loaded else "not loaded",
                "loaded" if self.present else "not loaded",
                "module state differs",
                (command,),
            ),
        )


@dataclass(frozen=True)
class MtuResource:
    """A network interface's MTU (set now with ``ip link``)."""

    interface: str
    mtu: int

    @property
    def verifiable(self) -> bool:
        """Reading the state back shows whether the change took effect."""
        return True

    def label(self) -> str:
        """``mtu ens1f0 9000``."""
        return f"mtu {self.interface} {self.mtu}"

    def reads(self) -> dict[str, Command]:
        """/sys/class/net/IFACE/mtu."""
        return {"mtu": Command.of(["cat", "--", f"/sys/class/net/{self.interface}/mtu"])}

    def plan(self, outputs: Mapping[str, Output]) -> Outcome:
        """Set the MTU when it differs."""
        output = outputs.get("mtu")
        if output is None or not output.ok:
            why = read_failure(output) if output is not None else "no output"
            raise PlaybookError(f"no interface {self.interface} ({why})")
        now = _text(output)
        if now == str(self.mtu):
            return Outcome(self.label(), None, f"already {now}")
        command = Command.of(["ip", "link", "set", "dev", self.interface, "mtu", str(self.mtu)])
        return Outcome(
            self.label(), Change(self.label(), now, str(self.mtu), "MTU differs", (command,))
        )


_STATE = FieldSpec(
    "state", "choice", "present or absent", default="present", choices=("present", "absent")
)
register(
    ResourceType(
        "service",
        "a systemd unit enabled (or not) and active (or not)",
        (
            FieldSpec("name", "string", "the unit", required=True),
            FieldSpec("enabled", "bool", "enabled at boot", default=True),
            FieldSpec("active", "bool", "running now", default=True),
        ),
        lambda v: ServiceResource(v["name"], v.get("enabled", True), v.get("active", True)),
    )
)
register(
    ResourceType(
        "package",
        "a package installed or absent (apt or dnf)",
        (FieldSpec("name", "string", "the package", required=True), _STATE),
        lambda v: PackageResource(v["name"], v.get("state", "present") == "present"),
    )
)
register(
    ResourceType(
        "kernel_module",
        "a kernel module loaded or unloaded, now",
        (FieldSpec("name", "string", "the module", required=True), _STATE),
        lambda v: KernelModuleResource(v["name"], v.get("state", "present") == "present"),
    )
)
register(ResourceType(
    "mtu", "a network interface's MTU",
    (
        FieldSpec("interface", "string", "the interface", required=True),
        FieldSpec("mtu", "int", "the MTU", required=True, minimum=68, maximum=65535),
    ),
    lambda v: MtuResource(v["interface"], v["mtu"]),
))  # fmt: skip
