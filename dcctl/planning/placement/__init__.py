"""Placement: which job replicas go on which hosts and GPUs (``dcctl plan place``)."""
