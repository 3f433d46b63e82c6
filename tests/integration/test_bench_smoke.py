"""The benchmark runs end to end on a small setting (figures are not asserted: benchmarks are not timed tests)."""
import json
import subprocess
import sys

from support import ROOT


def test_bench_small_runs_and_reports_every_table():
    result = subprocess.run([sys.executable, "-m", "bot", "bench", "--small"], cwd=ROOT, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads((ROOT / "bench-results" / "bench.json").read_text())
    assert {r["index"] for r in report["search"]} == {"county", "2,000 items"}  # 10,000 in the full run
    assert report["search"][1]["entries"] >= 2_000
    assert report["import"]["entries"] >= 3_300 and report["import"]["guides"] >= 2_000 and report["import"]["import_s"] > 0
    assert [r["label"] for r in report["chat"]] == ["default Rasa 3.6 (baseline)", "this Rasa, direct", "/api/chat, 1 Rasa", "/api/chat, 2 Rasa"]
    for row in report["chat"]:
        assert [c["clients"] for c in row["closed"]] == ([1, 10] if row["label"] == "/api/chat, 2 Rasa" else [1, 10, 20])
        assert all(c["errors"] == 0 and c["turns"] > 0 for c in row["closed"])
    assert all(row["open"] and row["open"][0]["offered"] == 10 for row in report["chat"] if row["label"] != "this Rasa, direct")
    assert all(report["chat"][i]["long"]["last_p50"] > 0 for i in (0, 2))
    assert report["booking"]["other"] == 0 and report["booking"]["booked"] > 0
    # the same burst with the line in front of Rasa and without it; every turn is accounted for
    assert [o["label"].split("（")[0] for o in report["overload"]] == ["有排队上限", "不设上限"]
    assert all(o["served"] + o["busy"] + o["gave_up"] + o["errors"] == o["count"] == 200 for o in report["overload"])
    assert "过载之后" in result.stdout
    assert len(report["memory_mb"]) == 3 and all(v > 0 for parts in report["memory_mb"].values() for v in parts.values())
    assert (ROOT / "bench-results" / "bench.png").stat().st_size > 10_000
    assert "应用自身开销" in result.stdout and "饱和前最高到达率" in result.stdout
    # the headline figures are measured three times in the run and reported as median and range
    assert len(report["rounds"]) == 3
    assert all(r["errors"] == 0 and r["direct_p50"] > 0 and r["app_p50"] > 0 and r["long_ratio"] > 0 and r["memory_mb"] > 0
               and r["open_served"] > 0 for r in report["rounds"])
    assert "主要指标，同一次运行中测 3 轮" in result.stdout
