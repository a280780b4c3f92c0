"""The resource types dcctl knows: each resource module registers its own.

Adding a resource type is its module (the class, its reads and plan, its ``register`` call) and
its name on the import line below.
"""

from __future__ import annotations

from dcctl.playbook.resources import files, gpu, services, system  # noqa: F401  (they register)
from dcctl.playbook.resources.types import ResourceType, registered

#: Every resource type, by name.
RESOURCE_TYPES: dict[str, ResourceType] = registered()
