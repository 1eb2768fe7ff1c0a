"""Benchmarks of autoopt (run as scripts or modules from the repository root; not installed)."""
