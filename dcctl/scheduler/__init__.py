"""Schedulers the fleet runs (Slurm): reading node state, and (next) owned drain/resume."""
