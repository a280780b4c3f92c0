"""Presentation: Rich tables and trees, diagnostics formats, JSON writers."""
