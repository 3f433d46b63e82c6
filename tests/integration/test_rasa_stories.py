"""Rasa's own tools over every flow: `rasa data validate` on the training data and `rasa test core` on the test
stories in tests/rasa/ (citizens' words through the real NLU, the actions the real policies choose)."""
import subprocess

from support import ROOT

RASA = ROOT / ".venv-rasa" / "bin" / "rasa"


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(RASA), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "RASA_TELEMETRY_ENABLED": "false", "HOME": str(ROOT / "var")})


def test_training_data_is_valid():
    result = run("data", "validate", "--domain", "domain.yml", "--data", "nlu_data", "--config", "config.yml", "--fail-on-warnings")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_rasa_test_stories_pass(tmp_path):
    result = run("test", "core", "--stories", "tests/rasa", "--model", "models/current.tar.gz", "--out", str(tmp_path),
                 "--fail-on-prediction-errors", "--no-plot")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "story_report.json").exists()
