"""Conventions shared by every ARM resource type: ids, api-versions, errors, routing, bodies."""
