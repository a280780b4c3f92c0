"""Input files of every kind: located YAML reading, the safe composer, diagnostics."""
