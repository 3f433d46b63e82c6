"""A smaller `make cluster-check` (bot/cluster_check.py): the production profile on loopback (PostgreSQL, Redis, nginx,
2 app and 2 Rasa processes) keeps every message, answers each once, keeps conversations apart and their context,
and never overbooks, while a Rasa process and an app process are killed and Redis is restarted."""
import os
import shutil
import tempfile
from pathlib import Path

from bot.cluster_check import run_check


def test_the_cluster_survives_killed_processes_and_a_redis_restart():
    folder = Path(tempfile.mkdtemp(prefix="cluster-check-"))
    os.chmod(folder, 0o755)  # PostgreSQL runs as its own account and must reach its folder inside
    try:
        status, lines = run_check(conversations=60, seconds=40, folder=folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\n".join(lines))
    assert lines[-1] == "faults: lost=0 duplicated=0 crosstalk=0 overbooked=0 context_lost=0", "\n".join(lines)
    assert status == 0, "\n".join(lines)
