"""Life events ("高效办成一件事"): one file per event in knowledge/events/, the steps in order, each a detailed guide,
with the conditions that select it. The answer lists the steps with each guide's department, visits and promised
time limit (read from the guide, never from the event file), what can be done together when a guide or the county
policy says so, and a link to each guide."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from knowledge.normalize import normalize

EVENTS_DIR = Path(__file__).resolve().parent / "events"
SIMILAR = 82  # rapidfuzz ratio (0-100) to an event's example question that counts as asking about the event


@dataclass(frozen=True)
class Step:
    item: str
    condition: str = ""


@dataclass(frozen=True)
class LifeEvent:
    id: str
    name: str
    aliases: tuple[str, ...]
    description: str
    steps: tuple[Step, ...]
    together: str
    questions: tuple[str, ...]
    verified: str


class EventError(ValueError):
    """An event file that does not fit the knowledge base; the message names the file and the field."""


def load_events(directory: Path = EVENTS_DIR, item_names: set[str] | None = None) -> tuple[LifeEvent, ...]:
    events = []
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        steps = tuple(Step(s["事项"], str(s.get("条件") or "")) for s in data.get("步骤") or [])
        if not data.get("一件事") or not steps:
            raise EventError(f"{path.name}: 一件事/步骤: 缺少")
        if item_names is not None:
            unknown = [s.item for s in steps if s.item not in item_names]
            if unknown:
                raise EventError(f"{path.name}: 步骤: 知识库没有这些事项：{'、'.join(unknown)}")
        if data.get("一次办") and not data.get("一次办依据"):
            raise EventError(f"{path.name}: 一次办依据: 写了一次办就要写依据")
        events.append(LifeEvent(
            id=str(data.get("编号") or path.stem), name=data["一件事"], aliases=tuple(data.get("别名") or []),
            description=str(data.get("说明") or ""), steps=steps, together=str(data.get("一次办") or ""),
            questions=tuple(data.get("常见问法") or []), verified=str(data.get("核对日期") or ""),
        ))
    return tuple(events)


@lru_cache(maxsize=1)
def events() -> tuple[LifeEvent, ...]:
    return load_events()


def match_event(text: str, candidates: tuple[LifeEvent, ...] | None = None) -> LifeEvent | None:
    """The life event a question is about: one of its aliases in the question, or close to one of its example
    questions; None otherwise."""
    text = normalize(text)
    if len(text) < 3:
        return None
    best, best_score = None, 0.0
    for event in candidates if candidates is not None else events():
        if any(normalize(alias) in text for alias in event.aliases if len(normalize(alias)) >= 2):
            score = 100.0 + max(len(normalize(a)) for a in event.aliases if normalize(a) in text)
        else:
            score = max((fuzz.ratio(text, normalize(q)) for q in event.questions), default=0.0)
        if score > best_score:
            best, best_score = event, score
    return best if best_score >= SIMILAR else None
