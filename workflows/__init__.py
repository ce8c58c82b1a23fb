"""Deterministic business processes. No I/O, clocks or randomness outside the Temporal API."""
