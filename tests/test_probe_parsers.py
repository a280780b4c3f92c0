"""Probe parsers on real captures (tests/fixtures) and on the edge cases real hosts produce."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcctl.probes.base import Output
from dcctl.probes.bundle import parse_bundle_file, read_bundle
from dcctl.probes.gpu import GpuProbe, parse_topology, parse_xid
from dcctl.probes.gpu_query import parse_apps, parse_query, query_command
from dcctl.probes.gpu_xml import parse_xml
from dcctl.probes.network import NetworkProbe, parse_ib_ports, parse_sys_net
from dcctl.probes.security import SecurityProbe, parse_path_dirs, parse_ss, parse_sshd
from dcctl.probes.storage import StorageProbe, parse_df, parse_lsblk, parse_mounts, parse_size
from dcctl.probes.system import SystemProbe

FIXTURES = Path(__file__).parent / "fixtures"
H100 = FIXTURES / "h100-idle"
VM = FIXTURES / "debian-vm"


def fixture(path: Path) -> Output:
    return parse_bundle_file(path.read_text(), str(path))


# --------------------------------------------------------------------------- gpu


def test_h100_query_csv_nounits():
    out = fixture(H100 / "nvsmi_query_nounits.csv")
    gpus, notes = parse_query(out.text, out.command)
    assert notes == []
    (g,) = gpus
    assert (g.index, g.name, g.uuid) == (
        0,
        "NVIDIA H100 80GB HBM3",
        "GPU-73db9f39-52b9-f66f-7eb7-20e870ad3549",
    )
    assert (g.driver_version, g.vbios_version, g.pstate) == ("580.159.04", "96.00.DA.00.0C", "P0")
    assert (g.power_draw_w, g.power_limit_w, g.min_power_limit_w, g.max_power_limit_w) == (
        69.84,
        700.0,
        200.0,
        700.0,
    )
    assert (g.memory_total_mib, g.pcie_gen, g.pcie_gen_max, g.pcie_width_max) == (81559, 5, 5, 16)
    assert g.ecc_enabled is True and g.ecc_uncorrected_aggregate == 0
    assert g.retired_pages_pending is None  # [N/A] on H100 (it remaps rows instead)
    assert g.remapped_rows_pending is False and g.remapped_rows_failure is False
    assert g.clock_event_reasons == ["gpu_idle"]  # 0x0000000000000001
    assert g.persistence_mode is True and g.compute_mode == "Default" and g.mig_enabled is False
    assert g.fan_speed_pct is None  # [N/A]: SXM boards have no fan


def test_h100_query_csv_with_units_and_header_matches_nounits():
    units = fixture(H100 / "nvsmi_query.csv")
    nounits = fixture(H100 / "nvsmi_query_nounits.csv")
    assert (
        parse_query(units.text, units.command)[0] == parse_query(nounits.text, nounits.command)[0]
    )


def test_h100_xml_alone_gives_the_same_gpu():
    xml = fixture(H100 / "nvsmi_qx.xml")
    gpus, driver, cuda = parse_xml(xml.text)
    assert (driver, cuda) == ("580.159.04", "13.0")
    csv_gpu = parse_query(*reversed(_cmd_text(H100 / "nvsmi_query_nounits.csv")))[0][0]
    (g,) = gpus
    same = [
        "uuid", "name", "serial", "pci_bus_id", "vbios_version", "pstate", "temperature_c",
        "power_limit_w", "default_power_limit_w", "min_power_limit_w", "max_power_limit_w",
        "memory_total_mib", "pcie_gen", "pcie_gen_max", "pcie_width", "pcie_width_max",
        "ecc_enabled", "ecc_uncorrected_volatile", "ecc_uncorrected_aggregate",
        "remapped_rows_correctable", "remapped_rows_uncorrectable", "remapped_rows_pending",
        "remapped_rows_failure", "clock_event_reasons", "persistence_mode", "compute_mode",
        "mig_enabled", "sm_clock_max_mhz",
    ]  # fmt: skip
    assert {k: getattr(g, k) for k in same} == {k: getattr(csv_gpu, k) for k in same}
    assert 60 < g.power_draw_w < 80


def _cmd_text(path: Path) -> tuple[str, str]:
    out = fixture(path)
    return out.command, out.text


def test_gpu_probe_from_xml_when_query_fails():
    xml = fixture(H100 / "nvsmi_qx.xml")
    failed = Output(query_command(), 'Field "fan.speed" is not a valid field to query.\n', 2)
    report = GpuProbe().parse({"gpu.query": failed, "gpu.xml": xml})
    assert report.driver_present and report.source == "nvidia-smi -q -x"
    assert [g.name for g in report.gpus] == ["NVIDIA H100 80GB HBM3"]


def test_gpu_probe_whole_bundle():
    report = GpuProbe().parse(read_bundle(H100, GpuProbe.steps))
    assert report.driver_present and report.driver_version == "580.159.04"
    assert report.processes == []
    assert report.topology["GPU0"]["cpu_affinity"] == "0-15"
    assert report.topology["GPU0"]["numa_affinity"] == "0"
    assert report.xid_events == []  # the capture has NVRM lines but no Xid


@pytest.mark.parametrize(
    ("output", "error", "present"),
    [
        (
            Output("nvidia-smi", "sh: 1: nvidia-smi: not found\n", 127),
            "no NVIDIA driver: nvidia-smi not found",
            False,
        ),
        (
            Output(
                "nvidia-smi",
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                "Make sure that the latest NVIDIA driver is installed and running.\n",
                9,
            ),
            "no NVIDIA driver: NVIDIA-SMI has failed because it couldn't communicate with the "
            "NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
            False,
        ),
        (Output("nvidia-smi", "", 124), "nvidia-smi did not answer in time (driver hung?)", False),
        (
            Output("nvidia-smi", "No devices were found\n", 6),
            "no NVIDIA driver: No devices were found",
            False,
        ),
    ],
)
def test_no_driver_results(output, error, present):
    report = GpuProbe().parse({"gpu.query": output})
    assert (report.error, report.driver_present) == (error, present)


def test_query_edge_values_and_old_driver_field_names():
    command = (
        "nvidia-smi --query-gpu=index,name,power.draw,ecc.mode.current,"
        "clocks_throttle_reasons.active,remapped_rows.pending,pcie.link.width.current "
        "--format=csv,noheader,nounits"
    )
    text = (
        "0, Tesla V100-SXM2-32GB, [Not Supported], [N/A], 0x0000000000000044, [N/A], 16\n"
        "1, Tesla V100-SXM2-32GB, 41.2, Enabled, 0x0000000000000000, No\n"  # a short line
        "\n"
    )
    gpus, notes = parse_query(text, command)
    assert len(gpus) == 1
    assert notes == ["skipped a line with 6 values for 7 fields"]
    g = gpus[0]
    assert g.power_draw_w is None and g.ecc_enabled is None and g.remapped_rows_pending is None
    assert g.clock_event_reasons == ["sw_power_cap", "hw_thermal_slowdown"]
    assert g.pcie_width == 16


def test_apps_with_and_without_header():
    out = fixture(H100 / "nvsmi_apps.csv")
    assert parse_apps(out.text, out.command) == []
    command = (
        "nvidia-smi --query-compute-apps=gpu_uuid,pid,process_name,used_memory "
        "--format=csv,noheader,nounits"
    )
    procs = parse_apps("GPU-1, 4242, /usr/bin/python3, 70123\n", command)
    assert [(p.pid, p.name, p.used_memory_mib, p.gpu_uuid) for p in procs] == [
        (4242, "/usr/bin/python3", 70123.0, "GPU-1")
    ]


def test_topology_eight_gpus():
    text = (
        "\t\x1b[4mGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m\n"
        "GPU0\t X \tNV18\tPXB\t0-47\t0\t\tN/A\n"
        "GPU1\tNV18\t X \tSYS\t0-47\t0\t\tN/A\n"
        "NIC0\tPXB\tSYS\t X \n\nLegend:\n\n  X    = Self\n"
    )
    topo = parse_topology(text)
    assert topo["GPU0"]["GPU1"] == "NV18" and topo["GPU1"]["NIC0"] == "SYS"
    assert topo["GPU1"]["cpu_affinity"] == "0-47"
    assert "NIC0" not in topo


def test_xid_lines():
    text = (
        "[ 8123.112233] NVRM: Xid (PCI:0000:18:00): 79, pid=1234, name=python, "
        "GPU has fallen off the bus.\n"
        "[ 9000.000001] NVRM: Xid (PCI:0000:3b:00): 13, pid=77, Graphics Exception\n"
        "[    0.526015] NVRM: loading NVIDIA UNIX Open Kernel Module for x86_64  580.159.04\n"
    )
    events = parse_xid(text)
    assert [(e.code, e.pci) for e in events] == [(79, "0000:18:00"), (13, "0000:3b:00")]


# --------------------------------------------------------------------------- network


def test_network_from_h100_capture_without_ip():
    report = NetworkProbe().parse(read_bundle(H100, NetworkProbe.steps))
    assert report.notes == ["ip not installed; interfaces from /sys/class/net only"]
    by = {i.name: i for i in report.interfaces}
    assert (by["eth0"].mtu, by["eth0"].operstate, by["eth0"].speed_mbps) == (1400, "up", None)
    assert by["lo"].mtu == 65536


def test_network_from_ip_json():
    outputs = read_bundle(VM, NetworkProbe.steps)
    report = NetworkProbe().parse(outputs)
    by = {i.name: i for i in report.interfaces}
    assert by["eth0"].mtu == 1400 and by["eth0"].operstate == "up"
    assert "192.0.2.2/24" in by["eth0"].addresses
    assert by["lo"].rx_bytes is not None and by["lo"].kind == "loopback"


def test_sys_net_and_ib_lines():
    capture = "/sys/class/net/ens1f0 mtu=9000 oper=up speed=400000\n"
    grep = (
        "/sys/class/net/ens1f0/mtu:9000\n/sys/class/net/ens1f0/operstate:up\n"
        "/sys/class/net/ens1f0/speed:400000\n/sys/class/net/lo/mtu:65536\n"
        "/sys/class/net/lo/operstate:unknown\n"
    )
    expected = {"mtu": 9000, "oper": "up", "speed": 400000}
    assert parse_sys_net(capture) == {"ens1f0": expected}
    assert parse_sys_net(grep) == {
        "ens1f0": expected,
        "lo": {"mtu": 65536, "oper": "unknown", "speed": None},
    }
    ib = "/sys/class/infiniband/{}/ports/1/{}"
    text = "\n".join(
        [
            ib.format("mlx5_0", "state:4: ACTIVE"),
            ib.format("mlx5_0", "rate:400 Gb/sec (4X NDR)"),
            ib.format("mlx5_0", "phys_state:5: LinkUp"),
            ib.format("mlx5_0", "link_layer:InfiniBand"),
            ib.format("mlx5_1", "state:1: DOWN"),
            ib.format("mlx5_1", "rate:10 Gb/sec (4X SDR)"),
            ib.format("mlx5_1", "phys_state:3: Disabled"),
            ib.format("mlx5_1", "link_layer:InfiniBand"),
        ]
    )
    ports = parse_ib_ports(text)
    assert [(p.device, p.state, p.rate_gbps, p.phys_state, p.link_layer) for p in ports] == [
        ("mlx5_0", "ACTIVE", 400.0, "LinkUp", "InfiniBand"),
        ("mlx5_1", "DOWN", 10.0, "Disabled", "InfiniBand"),
    ]


# --------------------------------------------------------------------------- system, storage


def test_system_from_h100_capture():
    report = SystemProbe().parse(read_bundle(H100, SystemProbe.steps))
    assert report.os_name == "Ubuntu 24.04.3 LTS" and report.os_version == "24.04"
    assert report.kernel == "6.18.44-fc-v657-gpu" and report.arch == "x86_64"
    assert report.cpus == 16 and report.cpu_model == "Intel(R) Xeon(R) Processor"
    assert report.memory_total_kib == 131981020


def test_storage_from_h100_capture_human_df():
    report = StorageProbe().parse(read_bundle(H100, StorageProbe.steps))
    root = next(f for f in report.filesystems if f.mountpoint == "/")
    assert (root.fstype, root.use_pct, root.size_bytes) == ("ext4", 21.0, 252 * 1024**3)
    assert {d.name for d in report.devices} >= {"zram0", "vda"}


def test_storage_from_vm_capture_bytes_and_mount_flags():
    report = StorageProbe().parse(read_bundle(VM, StorageProbe.steps))
    root = next(f for f in report.filesystems if f.mountpoint == "/")
    assert root.read_only is False and root.size_bytes and root.size_bytes % 1024 == 0
    assert any(f.read_only for f in report.filesystems)  # a read-only bind mount on this VM


def test_df_and_lsblk_edge_cases():
    fs = parse_df(
        "Filesystem 1024-blocks Used Available Capacity Mounted on\n"
        "/dev/sdb1 ext4 100 99 1 99% /mnt/my data\n",
        "df -PT -k",
    )
    assert (fs[0].mountpoint, fs[0].use_pct, fs[0].size_bytes) == ("/mnt/my data", 99.0, 102400)
    devices = parse_lsblk(
        '{"blockdevices":[{"name":"nvme0n1","type":"disk","size":3840755982336,"ro":false,'
        '"mountpoint":null,"children":[{"name":"nvme0n1p1","type":"part","size":1048576,'
        '"ro":"1","mountpoint":"/boot/efi"}]}]}'
    )
    assert [(d.name, d.parent, d.read_only, d.mountpoints) for d in devices] == [
        ("nvme0n1", None, False, []),
        ("nvme0n1p1", "nvme0n1", True, ["/boot/efi"]),
    ]
    assert parse_size("4.0K") == 4096 and parse_size("0B") == 0 and parse_size("x") is None
    assert parse_mounts("/dev/sdb1 /mnt/my\\040data ext4 ro,relatime 0 0\n") == {
        "/mnt/my data": True
    }


# --------------------------------------------------------------------------- security


def test_security_from_vm_capture():
    report = SecurityProbe().parse(read_bundle(VM, SecurityProbe.steps))
    assert report.sshd["permitrootlogin"] == "without-password"
    assert report.sshd["passwordauthentication"] in ("yes", "no")
    assert report.listeners and all(listener.port for listener in report.listeners)


def test_security_parsers():
    assert parse_sshd("permitrootlogin yes\npasswordauthentication no\nport 22\nport 2222\n") == {
        "permitrootlogin": "yes",
        "passwordauthentication": "no",
        "port": "22",
    }
    listeners = parse_ss(
        'tcp LISTEN 0 4096 0.0.0.0:22 0.0.0.0:* users:(("sshd",pid=812,fd=3))\n'
        "tcp LISTEN 0 4096 [::]:9100 [::]:*\n"
        "udp UNCONN 0 0 127.0.0.53%lo:53 0.0.0.0:*\n"
    )
    assert [(x.proto, x.address, x.port, x.process) for x in listeners] == [
        ("tcp", "0.0.0.0", 22, "sshd"),
        ("tcp", "::", 9100, None),
        ("udp", "127.0.0.53%lo", 53, None),
    ]
    dirs = parse_path_dirs(
        "755 root /usr/bin\n1777 root /tmp\n777 ops /opt/bin\n755 root /usr/bin\n"
    )
    assert [(d.path, d.world_writable) for d in dirs] == [
        ("/usr/bin", False),
        ("/tmp", False),
        ("/opt/bin", True),
    ]
