"""Output writers by name (``-o table|json|jsonl``): each writer module registers itself.

Adding a format is its module plus its name on the import line below; ``-o`` offers every
registered writer.
"""

from __future__ import annotations

from dcctl.render.writers import (  # noqa: F401  (they register)
    json_document,
    json_lines,
    nagios,
    prometheus,
    table,
)
from dcctl.render.writers.base import Writer, registered

WRITERS: dict[str, Writer] = registered()

__all__ = ["WRITERS", "Writer"]
