"""Reading ``profiles:``: the hardware SKU each host is expected to be."""

from __future__ import annotations

from collections.abc import Iterable

from dcctl.inventory.model import GpuSpec, InfinibandSpec, NicSpec, PowerLimits, Profile
from dcctl.inventory.sources import Document
from dcctl.source.diagnostics import Diagnostics, Loc
from dcctl.source.reader import Fields, mapping_items

_PROFILE_FIELDS = (
    "description",
    "cpus",
    "memory_gib",
    "gpu",
    "nic",
    "infiniband",
    "baseline_w",
    "nominal_w",
)
_GPU_FIELDS = (
    "model", "count", "memory_gib", "tdp_w", "power_limit_w", "driver", "nvlink_links", "mig",
)  # fmt: skip
_LIMIT_FIELDS = ("min", "default", "max")
_NIC_FIELDS = ("count", "speed_gbps", "mtu")
_IB_FIELDS = ("ports", "rate_gbps", "names")
_WATTS_MAX = 1_000_000  # one host drawing a megawatt is a typo


def read_profiles(documents: Iterable[Document], diags: Diagnostics) -> dict[str, Profile]:
    """Every profile of every file; a name defined twice is an error at the second."""
    profiles: dict[str, Profile] = {}
    for doc in documents:
        node = doc.fields.value_node("profiles")
        if node is None:
            continue
        for name, key_node, value in mapping_items(doc.source, node, "profiles", diags) or []:
            path = f"profiles.{name}"
            if name in profiles:
                first = profiles[name].loc
                diags.error(
                    doc.source.loc(key_node),
                    path,
                    f"profile '{name}' is already defined at {first}",
                )
                continue
            fields = Fields(doc.source, value, path, diags, _PROFILE_FIELDS)
            if fields.ok:
                profiles[name] = _read_profile(name, fields, doc.source.loc(key_node))
    return profiles


def _read_profile(name: str, fields: Fields, loc: Loc) -> Profile:
    gpu = None
    gpu_fields = fields.sub("gpu", _GPU_FIELDS, required=("model", "count"))
    if gpu_fields is not None:
        gpu = _read_gpu(gpu_fields)
    nic = None
    nic_fields = fields.sub("nic", _NIC_FIELDS)
    if nic_fields is not None:
        nic = NicSpec(
            count=nic_fields.number("count", minimum=0, maximum=64, integer=True),
            speed_gbps=nic_fields.number("speed_gbps", minimum=0, exclusive_minimum=True),
            mtu=nic_fields.number("mtu", minimum=68, maximum=65535, integer=True),
        )
    ib = None
    ib_fields = fields.sub("infiniband", _IB_FIELDS, required=("ports",))
    if ib_fields is not None:
        ports = ib_fields.number("ports", minimum=0, maximum=64, integer=True)
        names = tuple(n for n, _ in ib_fields.str_list("names") or [])
        if names and ports is not None and len(names) != ports:
            ib_fields.error("names", f"{len(names)} names for {ports} ports")
        ib = InfinibandSpec(
            ports=ports or 0,
            rate_gbps=ib_fields.number("rate_gbps", minimum=0, exclusive_minimum=True),
            names=names,
        )
    return Profile(
        name=name,
        loc=loc,
        description=fields.str("description"),
        cpus=fields.number("cpus", minimum=0, maximum=100_000, exclusive_minimum=True),
        memory_gib=fields.number(
            "memory_gib", minimum=0, maximum=1_000_000, exclusive_minimum=True
        ),
        gpu=gpu,
        nic=nic,
        infiniband=ib,
        baseline_w=fields.number("baseline_w", minimum=0, maximum=_WATTS_MAX),
        nominal_w_override=fields.number("nominal_w", minimum=0, maximum=_WATTS_MAX),
    )


def _read_gpu(fields: Fields) -> GpuSpec | None:
    model = fields.str("model")
    count = fields.number("count", minimum=0, maximum=1024, integer=True)
    limits = None
    limit_fields = fields.sub("power_limit_w", _LIMIT_FIELDS, required=_LIMIT_FIELDS)
    if limit_fields is not None:
        values = [
            limit_fields.number(k, minimum=0, maximum=100_000, exclusive_minimum=True)
            for k in _LIMIT_FIELDS
        ]
        lo, default, hi = values
        if lo is not None and default is not None and hi is not None:
            if not lo <= default <= hi:
                limit_fields.error(
                    None, f"needs min ≤ default ≤ max, got {lo:g} / {default:g} / {hi:g} W"
                )
            else:
                limits = PowerLimits(lo, default, hi)
    tdp = fields.number("tdp_w", minimum=0, maximum=100_000, exclusive_minimum=True)
    if model is None or count is None:
        return None
    return GpuSpec(
        model=model,
        count=count,
        memory_gib=fields.number("memory_gib", minimum=0, exclusive_minimum=True),
        tdp_w=tdp,
        power_limits=limits,
        driver=fields.str("driver"),
        mig=fields.boolean("mig"),
        nvlink_links=_optional_int(
            fields.number("nvlink_links", minimum=0, maximum=64, integer=True)
        ),
    )


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None
