"""Topics for vague openings ("咨询点户口上的事"): a topic word in a question that names no item leads to a question
back with the topic's most common items (knowledge/topics.yaml)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from knowledge.normalize import normalize

TOPICS_FILE = Path(__file__).resolve().parent / "topics.yaml"


@dataclass(frozen=True)
class Topic:
    name: str
    words: tuple[str, ...]
    items: tuple[str, ...]


@lru_cache(maxsize=1)
def topics() -> tuple[Topic, ...]:
    data = yaml.safe_load(TOPICS_FILE.read_text(encoding="utf-8"))
    return tuple(Topic(t["名称"], tuple(t["词"]), tuple(t["事项"])) for t in data["领域"])


def topic_of(text: str) -> Topic | None:
    """The topic whose word appears in the question (the longest word wins), or None."""
    text = normalize(text)
    found = [(len(word), topic) for topic in topics() for word in topic.words if word in text]
    return max(found, key=lambda pair: pair[0])[1] if found else None
