"""Subscriptions and resource groups: the containers every other resource lives in."""
