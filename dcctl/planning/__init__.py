"""Planning: problems built from the inventory, solved at the edge (OR-Tools in cpsat/ only)."""
