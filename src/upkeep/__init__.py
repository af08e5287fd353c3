"""Upkeep: a self-hosted update manager that speaks Azure Update Manager's REST API."""

__version__ = "0.1.0"
