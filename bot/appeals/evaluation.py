"""Routing accuracy on appeals written by other writers than the training examples (tests/eval/appeals.yml):
first-level accuracy, macro-F1 and per-class F1, second-level accuracy, the department's accuracy (the gold
department is the route of the gold category), and how many orders would go out without a person's review
(confidence at or above the dispatch threshold) and how right those are. `split: held_out` is never tuned on."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.appeals.classifier import AppealClassifier
from bot.appeals.routing import Routing
from bot.appeals.service import DISPATCH_CONFIDENCE

ROOT = Path(__file__).resolve().parents[2]
APPEALS = ROOT / "tests" / "eval" / "appeals.yml"


def f1_scores(gold: list[str], predicted: list[str]) -> dict[str, float]:
    scores = {}
    for label in sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label != g for g, p in zip(gold, predicted))
        fn = sum(g == label != p for g, p in zip(gold, predicted))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return scores


def score(rows: list[dict[str, Any]], classifier: AppealClassifier, routing: Routing, threshold: float = DISPATCH_CONFIDENCE) -> dict[str, Any]:
    results = [(row, classifier.classify(row["text"])) for row in rows]
    gold1 = [row["category1"] for row, _ in results]
    got1 = [c.category1 for _, c in results]
    f1 = f1_scores(gold1, got1)
    right_department = [routing.department_for(row["category1"], row["category2"]) == c.department for row, c in results]
    confident = [(row, c, ok) for (row, c), ok in zip(results, right_department) if c.confidence >= threshold and not c.urgent]
    return {
        "n": len(rows),
        "category1_accuracy": sum(g == p for g, p in zip(gold1, got1)) / len(rows),
        "macro_f1": sum(f1.values()) / len(f1),
        "f1": f1,
        "category2_accuracy": sum(row["category1"] == c.category1 and row["category2"] == c.category2 for row, c in results) / len(rows),
        "department_accuracy": sum(right_department) / len(rows),
        "type_accuracy": sum(row.get("type") == c.appeal_type for row, c in results) / len(rows),
        "auto_dispatched": len(confident) / len(rows),
        "auto_dispatched_right": (sum(ok for _, _, ok in confident) / len(confident)) if confident else 0.0,
        "urgent_recall": _recall([row.get("urgent") for row, _ in results], [c.urgent for _, c in results]),
        "misses": [{"text": row["text"], "gold": f"{row['category1']}/{row['category2']}", "got": f"{c.category1}/{c.category2}",
                    "confidence": round(c.confidence, 2)} for row, c in results if row["category1"] != c.category1],
    }


def _recall(gold: list[Any], got: list[bool]) -> float | None:
    positives = [g_ot for g, g_ot in zip(gold, got) if g]
    return sum(positives) / len(positives) if positives else None


def main(path: Path = APPEALS, show_misses: str | None = None) -> dict[str, Any]:
    routing = Routing.load()
    classifier = AppealClassifier(routing)
    rows = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("appeals") or []
    figures = {}
    print(f"\n== 诉求分类与派单（{path.name}，训练样例 bot/appeals/training/，评测由另外的编写者撰写）==")
    print(f"{'集合':<10}{'条数':>6}{'一级准确率':>10}{'宏F1':>8}{'二级准确率':>10}{'部门准确率':>10}{'类型准确率':>10}"
          f"{'自动派单':>9}{'其中正确':>9}")
    for split in ("tune", "held_out"):
        part = [row for row in rows if row.get("split") == split]
        if not part:
            continue
        result = score(part, classifier, routing)
        figures[split] = result
        print(f"{split:<10}{result['n']:>6}{result['category1_accuracy']:>14.1%}{result['macro_f1']:>10.3f}"
              f"{result['category2_accuracy']:>13.1%}{result['department_accuracy']:>13.1%}{result['type_accuracy']:>13.1%}"
              f"{result['auto_dispatched']:>11.1%}{result['auto_dispatched_right']:>11.1%}")
    if "held_out" in figures:
        worst = sorted(figures["held_out"]["f1"].items(), key=lambda kv: kv[1])
        print("留出集各一级分类 F1：" + "，".join(f"{label} {value:.2f}" for label, value in worst))
    if show_misses and show_misses in figures:
        for miss in figures[show_misses]["misses"]:
            print(f"  ✗ {miss['text'][:60]}  应为 {miss['gold']}，给出 {miss['got']}（{miss['confidence']}）")
    for result in figures.values():
        result.pop("misses")
    return figures


if __name__ == "__main__":
    import sys
    main(show_misses=sys.argv[1] if len(sys.argv) > 1 else None)
