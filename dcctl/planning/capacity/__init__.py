"""Capacity sizing: how many GPUs, how long, how much power, and whether it fits the site."""
