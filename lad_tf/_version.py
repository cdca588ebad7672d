"""The package's version, importable by every layer without importing `lad_tf`'s API."""

__version__ = "0.1.0"
