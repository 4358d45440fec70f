"""decoreg: decoding-based regression with language models."""

__version__ = "0.1.0"
