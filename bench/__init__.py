"""Benchmarks: each prints its numbers and writes the JSON file its issue names under bench/results/."""
