"""Benchmarks; each prints its figures and the machine."""
