"""Probes: read-only commands, pure parsers from their text to typed results."""
