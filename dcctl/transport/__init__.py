"""Reaching hosts: a small Transport interface with local, SSH and fake implementations."""
