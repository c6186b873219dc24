"""Benchmarks of the bundle (speed and memory tables, not tests): run them as ``python -m benchmarks.<name>``."""
