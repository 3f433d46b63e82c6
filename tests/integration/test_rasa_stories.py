"""Rasa's own test stories over the flows (tests/rasa/): citizens' words through the real NLU, the actions the real
policies choose. `rasa data validate` runs in tests/unit/test_training_data.py."""
import subprocess

from support import ROOT

RASA = ROOT / ".venv-rasa" / "bin" / "rasa"


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(RASA), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false", "HOME": str(ROOT / "var")})


def test_rasa_test_stories_pass(tmp_path):
    result = run("test", "core", "--stories", "tests/rasa", "--model", "models/current.tar.gz", "--out", str(tmp_path),
                 "--fail-on-prediction-errors", "--no-plot")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "story_report.json").exists()
