"""The SDK's version (read by setup.py; a leaf module, so any module may import it)."""

__version__ = "0.1.0"
