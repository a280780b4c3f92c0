"""The storage probe: block devices (``lsblk -J``), filesystem use (``df``), mount flags."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dcctl.probes.base import Outputs, Step, recogniser, register

#: Filesystem types that are not storage (their fullness or read-only state means nothing).
VIRTUAL_FS = frozenset(
    {
        "tmpfs", "devtmpfs", "proc", "sysfs", "cgroup", "cgroup2", "overlay", "squashfs",
        "devpts", "mqueue", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "autofs",
        "configfs", "fusectl", "hugetlbfs", "nsfs", "ramfs", "efivarfs", "binfmt_misc",
        "rpc_pipefs", "iso9660", "fuse.lxcfs", "nfsd", "selinuxfs",
    }
)  # fmt: skip
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


@dataclass
class BlockDevice:
    """A disk, partition or other block device."""

    name: str
    type: str | None
    size_bytes: int | None
    read_only: bool | None
    mountpoints: list[str] = field(default_factory=list)
    model: str | None = None
    parent: str | None = None


@dataclass
class Filesystem:
    """A mounted filesystem and how full it is."""

    source: str
    fstype: str | None
    mountpoint: str
    size_bytes: int | None
    used_bytes: int | None
    avail_bytes: int | None
    use_pct: float | None
    read_only: bool | None = None


@dataclass
class StorageReport:
    """Block devices and filesystems of a host."""

    devices: list[BlockDevice] = field(default_factory=list)
    filesystems: list[Filesystem] = field(default_factory=list)


class StorageProbe:
    """Disks, filesystem use, read-only mounts."""

    name: str = "storage"
    steps: tuple[Step, ...] = (
        Step("disk.lsblk", "lsblk -J -b", recogniser(r"^lsblk -J")),
        Step("disk.df", "df -PT -k", recogniser(r"^df -"), timeout=10, guarded=True),
        Step("disk.mounts", "cat /proc/mounts", recogniser(r"/proc/mounts")),
    )

    def summarize(self, result: StorageReport) -> str:
        """One line for folding identical hosts (see :func:`summarize_storage`)."""
        return summarize_storage(result)

    def parse(self, outputs: Outputs) -> StorageReport:
        """Devices from lsblk, filesystems from df with read-only flags from /proc/mounts."""
        report = StorageReport()
        if (out := outputs.get("disk.lsblk")) is not None and out.ok:
            report.devices = parse_lsblk(out.text)
        if (out := outputs.get("disk.df")) is not None and out.text.strip():
            report.filesystems = parse_df(out.text, out.command)
        if (out := outputs.get("disk.mounts")) is not None and out.ok:
            flags = parse_mounts(out.text)
            for fs in report.filesystems:
                if fs.mountpoint in flags:
                    fs.read_only = flags[fs.mountpoint]
        return report


def parse_size(text: object) -> int | None:
    """Bytes from ``lsblk -b`` numbers or human sizes such as ``252G``, ``4.0K``, ``0B``."""
    if text is None:
        return None
    if isinstance(text, int):
        return text
    m = re.match(r"^\s*([\d.]+)\s*([KMGTP]?)i?B?\s*$", str(text), re.I)
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def parse_lsblk(text: str) -> list[BlockDevice]:
    """Devices from ``lsblk -J``, children after their parent.

    Works with or without ``-b`` and with the old ``mountpoint`` or new ``mountpoints`` column.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return []
    out: list[BlockDevice] = []

    def walk(items: list[dict[str, object]], parent: str | None) -> None:
        for item in items:
            points = item.get("mountpoints")
            if points is None:
                points = [item.get("mountpoint")]
            ro = item.get("ro")
            read_only = ro if isinstance(ro, bool) else (None if ro is None else str(ro) == "1")
            model = str(item.get("model") or "").strip() or None
            out.append(
                BlockDevice(
                    name=str(item.get("name")),
                    type=str(item["type"]) if item.get("type") else None,
                    size_bytes=parse_size(item.get("size")),
                    read_only=read_only,
                    mountpoints=[str(p) for p in points if p] if isinstance(points, list) else [],
                    model=model,
                    parent=parent,
                )
            )
            children = item.get("children")
            if isinstance(children, list):
                walk(children, str(item.get("name")))

    walk(data.get("blockdevices", []) if isinstance(data, dict) else [], None)
    return out


def parse_df(text: str, command: str = "df -PT -k") -> list[Filesystem]:
    """Filesystems from ``df -PT -k`` (1K blocks) or ``df -hT`` (human sizes)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("Filesystem"):
        return []
    short = "".join(a[1:] for a in command.split()[1:] if a.startswith("-") and a[1:2] != "-")
    human = "h" in short or "H" in short
    blocks = 1024
    out = []
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 7:
            continue
        source, fstype, size, used, avail, pct = parts[:6]
        mount = " ".join(parts[6:])
        if human:
            size_b, used_b, avail_b = parse_size(size), parse_size(used), parse_size(avail)
        else:
            size_b, used_b, avail_b = (
                int(x) * blocks if x.isdigit() else None for x in (size, used, avail)
            )
        out.append(
            Filesystem(
                source=source,
                fstype=fstype,
                mountpoint=mount,
                size_bytes=size_b,
                used_bytes=used_b,
                avail_bytes=avail_b,
                use_pct=float(pct.rstrip("%")) if pct.rstrip("%").isdigit() else None,
            )
        )
    return out


def parse_mounts(text: str) -> dict[str, bool]:
    r"""Mount point → read-only, from /proc/mounts (octal escapes such as ``\040`` decoded)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4:
            mount = parts[1]
            if "\\" in mount:
                mount = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), mount)
            out[mount] = "ro" in parts[3].split(",")
    return out


def summarize_storage(r: StorageReport) -> str:
    """Disks and the fullest real filesystem."""
    disks = [d for d in r.devices if d.type == "disk" and (d.size_bytes or 0) > 0]
    real = [f for f in r.filesystems if f.fstype not in VIRTUAL_FS and f.use_pct is not None]
    fullest = max(real, key=lambda f: f.use_pct or 0, default=None)
    text = f"{len(disks)} disks"
    if fullest is not None:
        text += f", fullest {fullest.mountpoint} {fullest.use_pct:g}%"
    return text


register(StorageProbe(), order=40)
