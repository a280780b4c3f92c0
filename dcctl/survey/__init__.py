"""Surveying a fleet: probe many hosts, then judge each one (above probes and checks)."""
