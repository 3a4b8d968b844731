"""featkit's version, kept in one place (read by setup.py and written into every output file)."""

__version__ = "0.1.0"
