"""The inventory: hosts, groups, profiles and the physical/power tree, loaded from YAML."""
