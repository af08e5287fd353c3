"""The agent runs on the oldest Python it promises (3.8), from the zipapp the server serves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from upkeep.machines.agent import build_zipapp


def python_3_8() -> str | None:
    """A working Python 3.8 (pyenv's shims answer 127 unless that version is selected)."""
    candidates = [
        shutil.which("python3.8"),
        *map(str, Path("/root/.pyenv/versions").glob("3.8*/bin/python3.8")),
    ]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def test_the_zipapp_runs_on_python_3_8(tmp_path: Path) -> None:
    python = python_3_8()
    if python is None:
        pytest.skip("no python3.8 on this machine to check the agent against")
    package = tmp_path / "upkeep-agent.pyz"
    package.write_bytes(build_zipapp())
    version = subprocess.run(
        [python, str(package), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == "upkeep-agent 0.1.0"
    modules = (
        "cli daemon runner selection client state facts managers.apt managers.dnf managers.zypper"
    )
    imports = "; ".join(f"import upkeep_agent.{module}" for module in modules.split())
    subprocess.run(
        [python, "-c", f"import sys; sys.path.insert(0, {str(package)!r}); {imports}"], check=True
    )
