"""What an appeal is about and who must act: a first- and second-level category of the taxonomy, the appeal type
(投诉/求助/举报/建议/咨询) and the department, each with a confidence, and the words that decided it (shown to the
operator who confirms an uncertain one).

scikit-learn's TF-IDF over characters (1-2) and jieba words with a linear SVM: the examples are a few hundred per
writer, far too few for a neural model, and a linear model's weights say which words decided. A linear SVM trains in
seconds where a logistic regression over 118 classes took a minute, and was as accurate on the tune set; its margins
become scores by a softmax (TEMPERATURE), so "confidence" ranks answers and the dispatch threshold is chosen on the
tune set (docs/appeals.md). It trains from bot/appeals/training/ in the background when the app starts.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba
import joblib
import numpy as np
import sklearn
import yaml
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from bot.appeals.routing import APPEAL_TYPES, Routing

TRAINING_DIR = Path(__file__).resolve().parent / "training"
CACHE_DIR = Path(__file__).resolve().parents[2] / "var" / "cache"
logger = logging.getLogger(__name__)
SEPARATOR = "/"
TEMPERATURE = 3.0  # softmax of the SVM margins


def _scores(pipeline: Pipeline, text: str) -> NDArray[np.float64]:
    margins = pipeline.decision_function([text])[0] * TEMPERATURE
    exp = np.exp(margins - margins.max())
    scores: NDArray[np.float64] = exp / exp.sum()
    return scores


@dataclass
class Classification:
    category1: str
    category2: str
    department: str  # code
    department_name: str
    appeal_type: str
    confidence: float  # of the department: the probability mass of every category routed there
    category1_confidence: float
    urgent: bool
    reasons: list[str]  # words of the text that weighed most for the category
    alternatives: list[dict[str, Any]]  # the next likely categories with their departments

    def as_dict(self) -> dict[str, Any]:
        return {"category1": self.category1, "category2": self.category2, "department": self.department_name,
                "department_code": self.department, "confidence": round(self.confidence, 3),
                "category1_confidence": round(self.category1_confidence, 3), "appeal_type": self.appeal_type,
                "urgent": self.urgent, "reasons": self.reasons, "alternatives": self.alternatives}


def load_examples(directory: Path = TRAINING_DIR) -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        examples += (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("appeals") or []
    return examples


def _words(text: str) -> list[str]:
    return [word for word in jieba.lcut(text) if word.strip()]


def _pipeline() -> Pipeline:
    features = FeatureUnion([
        ("char", TfidfVectorizer(analyzer="char", ngram_range=(1, 2), sublinear_tf=True)),
        ("word", TfidfVectorizer(tokenizer=_words, token_pattern=None, lowercase=False, sublinear_tf=True)),
    ])
    return Pipeline([("features", features), ("model", LinearSVC(C=1.0))])


class AppealClassifier:
    def __init__(self, routing: Routing, examples: list[dict[str, Any]] | None = None):
        self.routing = routing
        examples = load_examples() if examples is None else examples
        known = {(first, second) for first, seconds in routing.taxonomy.items() for second in seconds}
        examples = [e for e in examples if (e["category1"], e["category2"]) in known]
        if not examples:
            raise ValueError("no appeal examples to train on (bot/appeals/training/*.yaml)")
        texts = [e["text"] for e in examples]
        # two models: the first-level class has enough examples to learn on its own; the second-level one, a few
        # examples per class, only chooses within the first-level class
        self.first = _pipeline().fit(texts, [e["category1"] for e in examples])
        self.category = _pipeline().fit(texts, [e["category1"] + SEPARATOR + e["category2"] for e in examples])
        typed = [e for e in examples if e.get("type") in APPEAL_TYPES]
        self.kind = _pipeline().fit([e["text"] for e in typed], [e["type"] for e in typed])
        self.labels = [label.split(SEPARATOR, 1) for label in self.category.classes_]
        self._names = self.category.named_steps["features"].get_feature_names_out()

    @classmethod
    def cached(cls, routing: Routing, cache_dir: Path = CACHE_DIR) -> AppealClassifier:
        """Trained once per version of the examples, taxonomy, routes and this code, then loaded from var/cache (a
        joblib pickle the app wrote itself; whoever can write var/ can change the app anyway)."""
        digest = hashlib.sha256()
        for path in [*sorted(TRAINING_DIR.glob("*.yaml")), Path(__file__)]:
            digest.update(path.read_bytes())
        digest.update(repr((routing.taxonomy, routing.routes, routing.urgent_words, sklearn.__version__)).encode())
        path = cache_dir / f"appeal-classifier-{digest.hexdigest()[:16]}.joblib"
        if path.exists():
            try:
                classifier: AppealClassifier = joblib.load(path)
                classifier.routing = routing
                return classifier
            except Exception as exc:  # noqa: BLE001  (a broken or foreign cache file: train again)
                logger.warning("appeal classifier cache %s unusable (%r): training again", path, exc)
        classifier = cls(routing)
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            joblib.dump(classifier, partial)
            partial.replace(path)
        except OSError as exc:
            logger.warning("appeal classifier not cached: %r", exc)
        return classifier

    def classify(self, text: str) -> Classification:
        text = (text or "").strip()
        by_first = dict(zip(self.first.classes_, _scores(self.first, text)))
        first = str(max(by_first, key=by_first.__getitem__))
        probabilities = _scores(self.category, text)
        inside = [i for i, label in enumerate(self.labels) if label[0] == first]
        best = max(inside, key=lambda i: probabilities[i])
        second = self.labels[best][1]
        code = self.routing.department_for(first, second)
        # the department's confidence: the first-level class's probability times the share of its second-level
        # probability that is routed to the same department
        within = sum(probabilities[i] for i in inside) or 1.0
        same = sum(probabilities[i] for i in inside if self.routing.department_for(*self.labels[i]) == code)
        by_department = {code: by_first[first] * same / within}
        kinds = _scores(self.kind, text)
        order = np.argsort(probabilities)[::-1]
        alternatives = []
        for i in order[:4]:
            if i == best:
                continue
            alt_first, alt_second = self.labels[i]
            alt_code = self.routing.department_for(alt_first, alt_second)
            alternatives.append({"category1": alt_first, "category2": alt_second, "department": self.routing.department_name(alt_code),
                                 "department_code": alt_code, "probability": round(float(probabilities[i]), 3)})
        return Classification(first, second, code, self.routing.department_name(code), str(self.kind.classes_[int(np.argmax(kinds))]),
                              float(by_department[code]), float(by_first[first]), self.routing.is_urgent(text),
                              self._reasons(text, best), alternatives[:3])

    def _reasons(self, text: str, label_index: int, count: int = 5) -> list[str]:
        """The words and characters of the text whose weights pushed most towards the chosen category."""
        features = self.category.named_steps["features"]
        vector = features.transform([text]).tocoo()
        weights = self.category.named_steps["model"].coef_[label_index]
        names = self._names
        scored = sorted(((value * weights[col], names[col].split("__", 1)[1]) for col, value in zip(vector.col, vector.data)),
                        reverse=True)
        reasons: list[str] = []
        for score, term in scored:
            term = term.strip()
            if score <= 0 or len(reasons) >= count:
                break
            if term and not any(term in kept or kept in term for kept in reasons):
                reasons.append(term)
        return reasons
