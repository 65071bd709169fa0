import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / "models"


def run_checker(*args, cwd=None, timeout=600, env_extra=None, stdout=None):
    """Run the installed CLI as a user would; returns CompletedProcess.

    ``stdout``: where its standard output goes (default: captured, as stderr always is)."""
    env = dict(os.environ, COLUMNS="200", **(env_extra or {}))
    # This checkout's code, not whatever checkout the environment was installed from.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "checker", *map(str, args)], text=True, cwd=cwd, timeout=timeout,
                          env=env, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE)


@pytest.fixture
def checker_cli(tmp_path):
    def run(*args, timeout=600):
        return run_checker(*args, cwd=tmp_path, timeout=timeout)
    return run
