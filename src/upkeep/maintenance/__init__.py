"""Maintenance configurations, configuration assignments and their schedules."""
