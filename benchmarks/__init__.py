"""Benchmarks and data recipes for featkit (run as scripts; see README)."""
