"""Knowledge search: which item is a citizen's question about?

Signals, each in [0, 1], for a small candidate set:
- `bm25`: BM25 over jieba tokens of name, aliases, keywords and example questions, as the share of the
  query's information (IDF) the entry covers;
- `name`: an item name or alias found in the question, exactly or fuzzily (rapidfuzz);
- `pinyin`: the same on toneless pinyin, for speech-recognition homophones (营业直照 → 营业执照);
- `model`: a char n-gram TF-IDF + logistic-regression model fitted on the guides' 常见问法, aliases and
  keywords when the index loads (no Rasa retraining when items change).
A logistic combiner fitted on the same examples (model signal cross-validated) turns the signals into a
calibrated score, the probability that the entry is the one asked about.
"""
from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
import numpy as np
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from knowledge.loader import KnowledgeBase
from knowledge.normalize import normalize
from knowledge.schema import Entry

ANSWER_THRESHOLD = 0.5  # top score needed to answer about an item
SUGGEST_THRESHOLD = 0.12  # below ANSWER_THRESHOLD but above this: offer the candidates as options
AMBIGUITY_MARGIN = 0.15  # top two both matched and closer than this: ask which one

# Words that carry no information about which item is meant.
STOPWORDS = set(
    "的 了 要 我 你 他 她 们 是 在 有 去 到 和 与 或 个 吗 呢 吧 啊 嘛 什么 怎么 怎么办 怎样 如何 哪里 哪些 多少 几 "
    "需要 需 带 办 办理 可以 能 能不能 可不可以 想 请问 一下 下 这个 那个 那 这 就 还 也 都 又 得 地 着 过 给 把 被 "
    "让 用 对 从 为 以 及 等 呀 哦 么 啥 咋 不 没 没有 好 谁 多久 时间 跑 次 材料 资料 流程 手续 费用 钱 网上 地方 "
    "啊 如果 现在 已经 应该 是不是 有没有 一个 自己 家里 知道 问 申请 ？ ?".split()
)


@dataclass
class Hit:
    entry: Entry
    score: float
    matched: bool
    signals: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "id": self.entry.id,
            "name": self.entry.name,
            "department": self.entry.department,
            "detailed": self.entry.detailed,
            "score": round(self.score, 4),
            "matched": self.matched,
        }


@dataclass
class Resolution:
    """What a question resolves to: one item to answer, several to choose from, or none."""

    kind: str  # "answer" | "choose" | "none"
    hits: list[Hit]

    @property
    def entry(self) -> Entry | None:
        return self.hits[0].entry if self.kind == "answer" else None


def _pinyin(text: str) -> str:
    return "".join(lazy_pinyin(text))


@lru_cache(maxsize=8192)
def _char_sound(char: str) -> str:
    return lazy_pinyin(char)[0] if "\u4e00" <= char <= "\u9fff" else char


def _syllables(text: str) -> tuple[str, ...]:
    """One toneless syllable per character (other characters stand for themselves)."""
    return tuple(_char_sound(c) for c in text)


class SearchIndex:
    """In-memory index over a knowledge base; build once, search from many threads."""

    def __init__(self, kb: KnowledgeBase, fit_model: bool = True):
        self.kb = kb
        self.entries = kb.entries
        self._lock = threading.Lock()  # jieba's Tokenizer is not safe to initialise concurrently
        self.tokenizer = jieba.Tokenizer()
        self.tokenizer.initialize()
        self._surfaces: list[list[tuple[str, str]]] = []  # per entry: (normalised name/alias, its pinyin)
        for entry in self.entries:
            words = {normalize(w) for w in [entry.name, *entry.aliases, *entry.keywords] if normalize(w)}
            for word in words:
                if len(word) >= 2:
                    self.tokenizer.add_word(word, freq=2000)
            surfaces = {normalize(w) for w in [entry.name, *entry.aliases] if len(normalize(w)) >= 2}
            self._surfaces.append([(s, _pinyin(s)) for s in sorted(surfaces)])
        self._build_homophones()
        self._build_bm25()
        self._build_grams()
        self.model = None
        self.combiner = None
        if fit_model and any(e.detailed for e in self.entries):
            self._fit_model()
            self._fit_combiner()

    # -- homophones: speech recognition writes 营业直照 for 营业执照 ---------------------------------
    def _build_homophones(self) -> None:
        sounds: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for entry in self.entries:
            for word in {normalize(w) for w in [entry.name, *entry.aliases, *entry.keywords]}:
                if 2 <= len(word) <= 10 and (len(word) >= 3 or entry.detailed):
                    sounds[_syllables(word)].add(word)
        # a sound shared by several different words is no safe correction
        self._homophones = {k: next(iter(v)) for k, v in sounds.items() if len(v) == 1}
        self._homophone_lengths = sorted({len(k) for k in self._homophones}, reverse=True)

    def correct(self, text: str) -> str:
        """Replace a run of characters that sounds exactly like a known item word by that word,
        unless the run is itself a dictionary word (事业 stays 事业, 营业直照 becomes 营业执照)."""
        syllables = _syllables(text)
        out, i = [], 0
        while i < len(text):
            for n in self._homophone_lengths:
                word = self._homophones.get(tuple(syllables[i:i + n])) if i + n <= len(text) else None
                if word is not None and (word == text[i:i + n] or not self.tokenizer.FREQ.get(text[i:i + n])):
                    out.append(word)
                    i += n
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)

    # -- tokens and BM25 ------------------------------------------------------------------------
    def tokens(self, text: str) -> list[str]:
        """Content tokens of normalised text."""
        with self._lock:
            words = self.tokenizer.lcut(text)
        return [w for w in words if w.strip() and w not in STOPWORDS]

    def _build_bm25(self, k1: float = 1.2, b: float = 0.75) -> None:
        # Hand-written inverted index: rank-bm25 scores every document for every query token, which is
        # too slow at 10,000 items; here only documents sharing a token are touched.
        self.k1, self.b = k1, b
        doc_tf: list[Counter] = []
        for entry in self.entries:
            tf: Counter = Counter()
            for text, weight in [(entry.name, 3), *[(a, 2) for a in entry.aliases], *[(k, 1) for k in entry.keywords]]:
                for token in set(self.tokens(normalize(text))):
                    tf[token] += weight
            for question in entry.questions:
                for token in set(self.tokens(normalize(question))):
                    tf[token] += 0.5
            doc_tf.append(tf)
        self.doc_len = np.array([sum(tf.values()) for tf in doc_tf], dtype=float)
        self.avg_len = float(self.doc_len.mean()) if len(doc_tf) else 1.0
        n = len(doc_tf)
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, tf in enumerate(doc_tf):
            for token, freq in tf.items():
                postings[token].append((i, freq))
        self.postings = dict(postings)
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self.postings.items()}
        self.max_idf = math.log(1 + (n + 0.5) / 0.5) if n else 1.0

    def _bm25(self, tokens: list[str]) -> dict[int, float]:
        """Per entry, the share of the query's IDF mass it covers (saturated BM25), in [0, 1]."""
        if not tokens:
            return {}
        scores: dict[int, float] = defaultdict(float)
        upper = 0.0
        for token in tokens:
            idf = self.idf.get(token, self.max_idf)  # unknown words count fully against coverage
            upper += idf
            for i, freq in self.postings.get(token, ()):
                norm = self.k1 * (1 - self.b + self.b * self.doc_len[i] / self.avg_len)
                scores[i] += idf * freq * (self.k1 + 1) / (freq + norm) / (self.k1 + 1)
        return {i: min(1.0, s / upper) for i, s in scores.items()}

    # -- character and pinyin bigrams for candidates -------------------------------------------
    def _build_grams(self) -> None:
        chars: dict[str, set[int]] = defaultdict(set)
        sounds: dict[str, set[int]] = defaultdict(set)
        for i, surfaces in enumerate(self._surfaces):
            for surface, _ in surfaces:
                for gram in zip(surface, surface[1:]):
                    chars["".join(gram)].add(i)
                syllables = lazy_pinyin(surface)
                for gram in zip(syllables, syllables[1:]):
                    sounds[" ".join(gram)].add(i)
        self.char_grams = {g: list(s) for g, s in chars.items()}
        self.sound_grams = {g: list(s) for g, s in sounds.items()}

    def _gram_candidates(self, text: str, limit: int = 30) -> list[int]:
        counts: Counter = Counter()
        for gram in {text[i:i + 2] for i in range(len(text) - 1)}:
            ids = self.char_grams.get(gram, ())
            if len(ids) < 400:  # very common bigrams say nothing
                counts.update(ids)
        syllables = lazy_pinyin(text)
        for gram in {" ".join(syllables[i:i + 2]) for i in range(len(syllables) - 1)}:
            ids = self.sound_grams.get(gram, ())
            if len(ids) < 400:
                counts.update(ids)
        return [i for i, _ in counts.most_common(limit)]

    def _surface_scores(self, text: str, i: int) -> tuple[float, float]:
        """(name signal, pinyin signal) of entry i for normalised text."""
        best_name = best_sound = 0.0
        text_py = _pinyin(text)
        for surface, sound in self._surfaces[i]:
            length_weight = min(1.0, 0.55 + 0.1 * len(surface))
            if surface in text:
                best_name = max(best_name, length_weight)
            elif len(surface) >= 3 and len(text) >= 2:
                ratio = fuzz.partial_ratio(surface, text) / 100
                if ratio >= 0.75:
                    best_name = max(best_name, length_weight * ratio * 0.9)
            if len(sound) >= 6:
                if sound in text_py:
                    best_sound = max(best_sound, length_weight)
                else:
                    ratio = fuzz.partial_ratio(sound, text_py) / 100
                    if ratio >= 0.85:
                        best_sound = max(best_sound, length_weight * ratio * 0.9)
        return best_name, best_sound

    # -- the example-question model and the combiner ----------------------------------------------
    def _training_examples(self) -> tuple[list[str], list[int]]:
        texts, labels = [], []
        for i, entry in enumerate(self.entries):
            if not entry.detailed:
                continue
            for text in [entry.name, *entry.aliases, *entry.keywords, *entry.questions]:
                texts.append(normalize(text))
                labels.append(i)
        return texts, labels

    @staticmethod
    def _new_model() -> tuple[TfidfVectorizer, LogisticRegression]:
        return (
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1),
            LogisticRegression(C=20.0, max_iter=2000),
        )

    def _fit_model(self) -> None:
        texts, labels = self._training_examples()
        vectorizer, classifier = self._new_model()
        classifier.fit(vectorizer.fit_transform(texts), labels)
        self.model = (vectorizer, classifier)

    def _model_probs(self, text: str, model=None) -> dict[int, float]:
        vectorizer, classifier = model or self.model
        probs = classifier.predict_proba(vectorizer.transform([text]))[0]
        return {int(label): float(p) for label, p in zip(classifier.classes_, probs)}

    def _fit_combiner(self) -> None:
        """Fit the signal combiner on the example questions, each scored by a model that never saw it."""
        questions = [(normalize(q), i) for i, e in enumerate(self.entries) if e.detailed for q in e.questions]
        names = [(t, l) for t, l in zip(*self._training_examples()) if (t, l) not in set(questions)]
        features, targets = [], []
        folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=7)
        for train_idx, test_idx in folds.split(questions, [l for _, l in questions]):
            train = names + [questions[j] for j in train_idx]
            vectorizer, classifier = self._new_model()
            classifier.fit(vectorizer.fit_transform([t for t, _ in train]), [l for _, l in train])
            for j in test_idx:
                text, label = questions[j]
                for i, values in self._signals(text, (vectorizer, classifier)).items():
                    features.append(self._feature_row(values))
                    targets.append(1 if i == label else 0)
        self.combiner = LogisticRegression(C=1.0, max_iter=1000)
        self.combiner.fit(np.array(features), np.array(targets))

    @staticmethod
    def _feature_row(values: dict[str, float]) -> list[float]:
        return [values["model"], values["name"], values["pinyin"], values["bm25"], values["margin"], values["detailed"]]

    def _signals(self, text: str, model=None) -> dict[int, dict[str, float]]:
        """Signals for every candidate entry of normalised text."""
        bm25 = self._bm25(self.tokens(text))
        probs = self._model_probs(text, model) if (model or self.model) else {}
        candidates = set(sorted(bm25, key=bm25.get, reverse=True)[:30])
        candidates.update(self._gram_candidates(text))
        candidates.update(sorted(probs, key=probs.get, reverse=True)[:8])
        top_prob = max(probs.values()) if probs else 0.0
        signals = {}
        for i in candidates:
            name, sound = self._surface_scores(text, i)
            model_p = probs.get(i, 0.0)
            signals[i] = {
                "model": model_p,
                "name": name,
                "pinyin": sound,
                "bm25": bm25.get(i, 0.0),
                "margin": model_p - top_prob,  # 0 for the model's favourite, negative for others
                "detailed": 1.0 if self.entries[i].detailed else 0.0,
            }
        return signals

    # -- public API ---------------------------------------------------------------------------
    def search(self, question: str, top: int = 3) -> list[Hit]:
        """Best entries for a question, best first, with calibrated scores."""
        text = self.correct(normalize(question))
        if not text:
            return []
        signals = self._signals(text)
        if not signals:
            return []
        ids = list(signals)
        rows = np.array([self._feature_row(signals[i]) for i in ids])
        if self.combiner is not None:
            scores = self.combiner.predict_proba(rows)[:, 1]
        else:  # no detailed guides to learn from: lexical signals only
            scores = np.maximum(rows[:, 1], np.maximum(rows[:, 2], rows[:, 3]))
        order = np.argsort(-scores)[: max(top, 2)]
        hits = [
            Hit(self.entries[ids[k]], float(scores[k]), bool(scores[k] >= ANSWER_THRESHOLD), signals[ids[k]])
            for k in order
        ]
        return hits[:top]

    def resolve(self, question: str, top: int = 4) -> Resolution:
        """Answer one item, offer several, or say none fits."""
        hits = self.search(question, top=top)
        if not hits or hits[0].score < SUGGEST_THRESHOLD:
            return Resolution("none", [])
        if hits[0].matched and (len(hits) < 2 or hits[0].score - hits[1].score >= AMBIGUITY_MARGIN or not hits[1].matched):
            return Resolution("answer", hits[:1])
        floor = max(SUGGEST_THRESHOLD, hits[0].score * 0.3)
        return Resolution("choose", [h for h in hits if h.score >= floor])

    def mentions_item(self, question: str) -> bool:
        """Whether the question names or clearly describes some item (for follow-up handling)."""
        hits = self.search(question, top=1)
        return bool(hits) and hits[0].score >= SUGGEST_THRESHOLD
