"""GPU sharing placers for the openb trace: online (fragmentation-aware) and offline."""
