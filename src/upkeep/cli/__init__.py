"""The ``upkeep`` command line, grouped like ``az``: serve, admin, login, group, maintenance."""
