"""Planning: problems built from the inventory, solved at the edge (CP-SAT in cpsat.py only)."""
