"""Playbooks: desired state in YAML, a planner that never writes, an executor that does."""
