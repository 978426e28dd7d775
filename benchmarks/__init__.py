"""Reproducible benchmarks: each measures the project side by side with its peers."""
