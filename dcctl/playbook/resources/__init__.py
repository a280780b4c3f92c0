"""Resources: read the current state, compare it with the desired one, propose a Change."""
