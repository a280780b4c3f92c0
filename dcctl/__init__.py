"""dcctl: an ops toolkit for GPU data centers."""

__version__ = "0.1.0"
