"""Masking secret values in text, by value, in every form they can take on the way out.

A secret may appear verbatim, quoted for a shell (``shlex.quote``), escaped in JSON, or one line
of it at a time (a multi-line secret in a diff). :func:`mask` replaces each of these forms with
``***``; it is applied at the output boundary (tables, JSON, journals, error messages).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from functools import lru_cache

SECRET_MASK = "***"
#: Lines of a multi-line secret shorter than this are not masked on their own (a lone "}" or
#: "a" would mask half of a diff); the whole secret and its longer lines still are.
MIN_LINE = 4


@lru_cache(maxsize=1024)
def _forms(secret: str) -> tuple[str, ...]:
    """Every form of a secret worth replacing, longest first."""
    forms = {secret, shlex.quote(secret), json.dumps(secret)[1:-1]}
    if "\n" in secret:
        for line in secret.splitlines():
            line = line.strip()
            if len(line) >= MIN_LINE:
                forms.update({line, json.dumps(line)[1:-1]})
    # shlex.quote of a secret with a quote in it writes '"'"': each part may appear alone.
    if "'" in secret:
        forms.update(part for part in secret.split("'") if len(part) >= MIN_LINE)
    return tuple(sorted((f for f in forms if f), key=len, reverse=True))


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every form of every secret replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        for form in _forms(secret):
            if form in text:
                text = text.replace(form, SECRET_MASK)
    return text


def mask_data(data: object, secrets: Iterable[str]) -> object:
    """JSON-ready data with every string masked (keys too)."""
    found = frozenset(s for s in secrets if s)
    if not found:
        return data
    return _mask_data(data, found)


def _mask_data(data: object, secrets: frozenset[str]) -> object:
    if isinstance(data, str):
        return mask(data, secrets)
    if isinstance(data, dict):
        return {mask(str(k), secrets): _mask_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_mask_data(v, secrets) for v in data]
    return data
