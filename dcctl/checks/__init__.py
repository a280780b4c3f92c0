"""Verdicts over probe results: findings with a severity and a reason."""
