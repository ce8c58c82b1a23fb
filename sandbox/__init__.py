"""Local, real-HTTP imitations of the systems retail-sync talks to, for tests and the demo."""
