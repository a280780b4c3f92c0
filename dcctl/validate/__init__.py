"""Offline validation of every kind of input file dcctl reads (for CI: no host contacted)."""
