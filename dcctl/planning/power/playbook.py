"""The playbook that applies a power plan: one ``gpu_power_limit`` resource per distinct cap.

```yaml
name: GPU power caps (dcctl plan power)
hosts: gpu[001-016]
resources:
  - {type: gpu_power_limit, hosts: "gpu[001-008]", watts: 675}
  - {type: gpu_power_limit, hosts: "gpu009", gpus: [6, 7], watts: 650}
```

``gpus`` is left out when the resource covers every GPU of its hosts. The playbook engine
(`dcctl apply`) applies it; its dry-run shows each change from the probed current limits.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dcctl.model.nodeset import NodeSet
from dcctl.planning.power.plan import PowerPlan


def power_playbook(plan: PowerPlan) -> dict[str, Any]:
    """The playbook document for a feasible plan (every planned GPU of a host is in the plan)."""
    gpus_per_host: dict[str, int] = defaultdict(int)
    for host, _ in plan.caps:
        gpus_per_host[host] += 1
    per_host: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (host, index), cap in sorted(plan.caps.items()):
        per_host[host][cap].append(index)
    by_shape: dict[tuple[float, tuple[int, ...] | None], set[str]] = defaultdict(set)
    for host, caps in per_host.items():
        for cap, on_gpus in caps.items():
            whole = len(caps) == 1 and len(on_gpus) == gpus_per_host.get(host, len(on_gpus))
            by_shape[(cap, None if whole else tuple(sorted(on_gpus)))].add(host)
    resources = []
    for (cap, indices), hosts in sorted(
        by_shape.items(), key=lambda kv: (str(NodeSet.from_names(kv[1])), kv[0][0])
    ):
        resource: dict[str, Any] = {
            "type": "gpu_power_limit",
            "hosts": str(NodeSet.from_names(hosts)),
        }
        if indices is not None:
            resource["gpus"] = list(indices)
        resource["watts"] = int(cap) if float(cap).is_integer() else cap
        resources.append(resource)
    return {
        "name": "GPU power caps (dcctl plan power)",
        "hosts": str(NodeSet.from_names(per_host)),
        "resources": resources,
    }
