"""One module per external system. Plain async I/O with typed errors; no Temporal here."""
