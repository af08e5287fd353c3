"""What the agent keeps on disk: its configuration and credential, and a journal per job.

The state directory (default ``/var/lib/upkeep-agent``) is private to root: ``agent.json``
(0600) holds the server, the machine's identity and its credential; ``jobs/<id>.json``
records how far a job got, so an agent that was killed or rebooted can finish truthfully.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any, Dict, List, Optional

DEFAULT_STATE_DIR = "/var/lib/upkeep-agent"


def write_private(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600) atomically: a reader sees the old or the new."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temporary = path + ".tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


class State:
    def __init__(self, directory: str = DEFAULT_STATE_DIR) -> None:
        self.directory = directory

    @property
    def config_path(self) -> str:
        return os.path.join(self.directory, "agent.json")

    @property
    def ca_path(self) -> str:
        return os.path.join(self.directory, "ca.pem")

    def enrolled(self) -> bool:
        return os.path.exists(self.config_path)

    def load(self) -> Dict[str, Any]:
        with open(self.config_path) as handle:
            return json.load(handle)

    def save(self, config: Dict[str, Any]) -> None:
        write_private(self.config_path, json.dumps(config, indent=2, sort_keys=True))

    # --- job journal ---------------------------------------------------------------------

    def _journal_path(self, job_id: str) -> str:
        return os.path.join(self.directory, "jobs", job_id + ".json")

    def journal(self, job_id: str) -> Optional[Dict[str, Any]]:
        try:
            with open(self._journal_path(job_id)) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def write_journal(self, job_id: str, entry: Dict[str, Any]) -> None:
        write_private(self._journal_path(job_id), json.dumps(entry))

    def forget(self, job_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(self._journal_path(job_id))

    def journaled_jobs(self) -> List[str]:
        try:
            names = os.listdir(os.path.join(self.directory, "jobs"))
        except FileNotFoundError:
            return []
        return sorted(name[: -len(".json")] for name in names if name.endswith(".json"))
