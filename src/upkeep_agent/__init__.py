"""The Upkeep agent: runs on each managed machine. Standard library only, Python >= 3.8."""

__version__ = "0.1.0"
