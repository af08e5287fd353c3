"""The orchestrator: maintenance windows become runs, and runs become jobs, on time."""
