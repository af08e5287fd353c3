"""Maintenance runs: applyUpdates records, cancelling a window, applying updates now."""
