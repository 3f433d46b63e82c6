"""The benchmark runs end to end on a small setting (figures are not asserted: benchmarks are not timed tests)."""
import json
import subprocess
import sys

from support import ROOT


def test_bench_small_runs_and_reports_every_table():
    result = subprocess.run([sys.executable, "-m", "bot", "bench", "--small"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads((ROOT / "bench-results" / "bench.json").read_text())
    assert {r["index"] for r in report["search"]} == {"county", "10,000 items"}
    assert report["search"][1]["entries"] >= 10_000
    assert {(r["target"], r["clients"]) for r in report["chat"]} == {
        ("bare Rasa REST", 1), ("app /api/chat", 1), ("bare Rasa REST", 20), ("app /api/chat", 20),
        ("bare Rasa REST", "long"), ("app /api/chat", "long")}
    assert all(r["errors"] == 0 and r["turns"] > 0 for r in report["chat"] if r["clients"] != "long")
    assert all(r["last_p50"] > 0 for r in report["chat"] if r["clients"] == "long")
    assert report["booking"]["other"] == 0 and report["booking"]["booked"] > 0
    assert "应用开销" in result.stdout
