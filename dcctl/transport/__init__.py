"""Reaching hosts: a small Transport interface with local, SSH and fake implementations."""

from dcctl.transport import lazy_invoke

lazy_invoke.install()  # before any module here imports paramiko
