"""The embedded default: local processes (Temporal dev server, Tryton, sandboxes) for the demo and tests."""
