"""Thin Temporal activities over the adapters. Every external write is idempotent."""
