"""Comparisons: inputs, runners, metrics and verdicts, parity after fixes, timing, reports."""
