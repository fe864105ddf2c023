"""Benchmarks of the real app, each figure beside a baseline measured in the same run."""
