"""Life events ("高效办成一件事"): one file per event in knowledge/events/, the steps in order, each a detailed guide,
with the conditions that select it. The answer lists the steps with each guide's department, visits and promised
time limit (read from the guide, never from the event file), what can be done together when a guide or the county
policy says so, and a link to each guide."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from knowledge.normalize import normalize

EVENTS_DIR = Path(__file__).resolve().parent / "events"
SIMILAR = 82  # rapidfuzz ratio (0-100) to an event's example question that counts as asking about the event
_LOOSE = re.compile(r"一?[个家间]|了")
# a shop of any kind ("开火锅店", "开个冒菜馆", "开家五金铺子"): the alias 开店 (the events name only the common kinds)
_ANY_SHOP = re.compile(r"开[\u4e00-\u9fa5]{1,3}?(?:店|铺|[饭餐菜面]馆)子?")  # (a 宾馆 is its own licence's question)
SAME = 95  # ... and that counts as asking it whatever the wording (staff put the question there)
# the words that ask for everything a life event needs rather than one of its items
# ("要带哪些证件", "准备哪些证明": the documents to take, a question about one item's materials, not a life event)
CUE = re.compile(r"(?<![带拿备供交])哪些(部门|手续|事|证|地方)|办些(啥|什么)|要办(啥|什么)|要办哪些|都要(办|跑)|跑哪些|哪几(个|样|件)|一条龙|"
                 r"全部手续|所有手续|要弄些啥|整套|一件事|有(啥子?|什么)(可以|能)办")  # ("有啥子可以办的没得")


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


def read_documents(directory: Path = EVENTS_DIR) -> dict[str, dict[str, Any]]:
    """The event files as documents (Chinese field names, 编号 the file's stem when not written) by file name."""
    documents = {}
    for path in sorted(directory.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        document = {"编号": str(data.get("编号") or path.stem), **{k: v for k, v in data.items() if k != "编号"}}
        if isinstance(document.get("核对日期"), dt.date):  # as a knowledge version stores it
            document["核对日期"] = document["核对日期"].isoformat()
        documents[path.name] = document
    return documents


def check(documents: list[dict[str, Any]], item_names: set[str] | None = None) -> list[tuple[str, str]]:
    """What keeps event documents from being published: (编号, "<field>: <reason>") each."""
    problems: list[tuple[str, str]] = []
    seen = set()
    for d in documents:
        number = d.get("编号")
        steps = d.get("步骤") or []
        if not d.get("一件事") or not steps or any(not isinstance(s, dict) or not s.get("事项") for s in steps):
            problems.append((str(number), "一件事/步骤: 缺少"))
            continue
        if number in seen:
            problems.append((str(number), "编号: 重复"))
        seen.add(number)
        if item_names is not None:
            unknown = [s["事项"] for s in steps if s["事项"] not in item_names]
            if unknown:
                problems.append((str(number), f"步骤: 知识库没有这些事项：{'、'.join(unknown)}"))
        if d.get("一次办") and not d.get("一次办依据"):
            problems.append((str(number), "一次办依据: 写了一次办就要写依据"))
    return problems


def of(document: dict[str, Any]) -> LifeEvent:
    """The life event of a (checked) document."""
    return LifeEvent(
        id=str(document["编号"]), name=document["一件事"], aliases=tuple(document.get("别名") or []),
        description=str(document.get("说明") or ""),
        steps=tuple(Step(s["事项"], str(s.get("条件") or "")) for s in document["步骤"]),
        together=str(document.get("一次办") or ""), questions=tuple(document.get("常见问法") or []),
        verified=str(document.get("核对日期") or ""),
    )


def load_events(directory: Path = EVENTS_DIR, item_names: set[str] | None = None) -> tuple[LifeEvent, ...]:
    documents = read_documents(directory)
    files = {d["编号"]: name for name, d in documents.items()}
    problems = check(list(documents.values()), item_names)
    if problems:
        raise EventError("；".join(f"{files.get(number, number)}: {problem}" for number, problem in problems))
    return tuple(of(d) for d in documents.values())


@lru_cache(maxsize=1)
def events() -> tuple[LifeEvent, ...]:
    return load_events()


def match_event(text: str, candidates: tuple[LifeEvent, ...] | None = None) -> LifeEvent | None:
    """The life event a question is about: one of its aliases in the question, or close to one of its example
    questions; None otherwise."""
    text = normalize(text)
    if len(text) < 3:
        return None
    loose = _LOOSE.sub("", text)  # "开个饭馆子", "刚生了孩子": the alias 开饭馆, 生孩子 with a measure word or 了 inside
    loose += " " + _ANY_SHOP.sub("开店", loose)
    best, best_score = None, 0.0
    for event in candidates if candidates is not None else events():
        said = [a for a in map(normalize, event.aliases) if len(a) >= 2 and (a in text or _LOOSE.sub("", a) in loose)]
        if said:
            score = 100.0 + max(len(a) for a in said)
        else:
            score = max((fuzz.ratio(text, _normalized(q)) for q in event.questions), default=0.0)
        if score > best_score:
            best, best_score = event, score
    return best if best_score >= SIMILAR else None


def event_begun_by(text: str, first_item: str, candidates: tuple[LifeEvent, ...]) -> LifeEvent | None:
    """The life event a question asking for everything (CUE) is about when it names no event but describes the
    situation its first step is for ("生了个儿子，要给娃儿办些啥子手续": the birth certificate, so the new-born's steps)."""
    if not CUE.search(text):
        return None
    # a first step for everyone in the event (not one of alternatives: 本地户口 or 外地户口 at school entry)
    found = [event for event in candidates if event.steps and event.steps[0].item == first_item and not event.steps[0].condition]
    return found[0] if len(found) == 1 else None


_CLAUSE = re.compile(r"[，,；;]")  # the clauses of a step's condition, all of which must hold
_TERM_SPLIT = re.compile(r"[、，,。；;（）()/\s]|或者?|和|及|与")
_TERM_LEAD = re.compile(r"^(去|到|在|是|开的是|前往)")


def condition_terms(condition: str) -> list[str]:
    """The words a step's condition is said with: "去香港、澳门" -> 香港, 澳门."""
    terms = (_TERM_LEAD.sub("", normalize(part)).removesuffix("的") for part in _TERM_SPLIT.split(condition))
    return [term for term in terms if len(term) >= 2]


def chosen_step(event: LifeEvent, text: str) -> Step | None:
    """The one step of an event of alternatives (every step under a condition) whose condition the question says,
    when the condition narrows the event rather than restating it: "去香港耍要办啥子证件" is the Hong Kong and Macau
    permit of 出国出境, "出国打工要办些啥" still the whole event (出国 is the event's own name)."""
    if not event.steps or not all(step.condition for step in event.steps):
        return None
    said, name = normalize(text), normalize(event.name)

    def meets(clause: str) -> bool:
        return any(term in said and term not in name for term in condition_terms(clause))
    # every clause of a condition said ("开的是公司，没有欠账…，工资、社保费、税款都已结清": "公司要注销" says one of
    # three, so the steps are listed with their conditions); the words within a clause are alternatives (去香港、澳门)
    chosen = [step for step in event.steps if all(meets(clause) for clause in _CLAUSE.split(step.condition) if clause.strip())]
    return chosen[0] if len(chosen) == 1 else None


@lru_cache(maxsize=4096)
def _normalized(question: str) -> str:
    return normalize(question)


def asked_event(text: str, candidates: tuple[LifeEvent, ...]) -> LifeEvent | None:
    """The life event a citizen asks about as a whole: a question that asks for everything (CUE) about an event, or
    one of the event's example questions (常见问法) nearly as written; None otherwise."""
    if CUE.search(text):
        return match_event(text, candidates)
    wording = normalize(text)
    for event in candidates:
        if any(fuzz.ratio(wording, _normalized(q)) >= SAME for q in event.questions):
            return event
    return None
