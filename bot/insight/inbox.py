"""The review inbox: questions the assistant missed, grouped by similarity, and the loop that fixes them.

A question is for review when it was not found, answered with a search score below LOW_CONFIDENCE, followed by
"不对" / "不是这个" or a request for a person, or its conversation was rated 不满意 or worse. Similar questions (after
knowledge/normalize.py, rapidfuzz's ratio at least SIMILAR to a member) are one group with a count. An admin turns
a group into 常见问法 or an alias (别名) of an item, into a step of a life event (一件事, knowledge/events.py: the item
becomes a step, with its condition, and the group's wordings the event's 常见问法), or into a pinned answer (人工干预,
knowledge/pinned.py: staff's exact answer to the group's wordings, optionally about an item): the edit is checked like
the console's guide form and published as a knowledge version (audited, served by every process within seconds);
then the group's questions are asked again of the new version, and those that now resolve to that item (or that
event, or that pinned answer) leave the inbox (turn_outcomes.resolved_version). An admin can also set a group aside
(resolved_version 0).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.handoff.models import Rating
from bot.insight.models import TurnOutcome
from knowledge import events as life_events
from knowledge.content import Content, is_guide
from knowledge.editing import from_form
from knowledge.normalize import normalize
from knowledge.pinned import PinnedError, pin

if TYPE_CHECKING:
    from knowledge.search import SearchIndex

LOW_CONFIDENCE = 0.65  # an answer whose search score is below this is checked by a person
SIMILAR = 68  # rapidfuzz ratio (0-100) of normalised questions that makes them one group
DAYS = 90  # how far back the inbox looks
MAX_ROWS = 5000
DISMISSED = 0  # resolved_version of a group an admin set aside
REASONS = {"not_found": "未找到", "low_confidence": "把握不大", "dispute": "随后说“不对”", "person": "随后要人工",
           "rated_bad": "评价不满意"}
ACTIONS = {"question": "常见问法", "alias": "别名"}


class InboxError(ValueError):
    """A group or an item that cannot be used; the message says why, in Chinese."""


@dataclass
class Group:
    key: int  # the id of its first question's row: how the console names the group
    question: str  # the most frequent wording
    count: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    wordings: Counter[str] = field(default_factory=Counter)  # normalised wording -> times asked
    examples: dict[str, str] = field(default_factory=dict)  # normalised -> one question as asked (masked)
    ids: list[int] = field(default_factory=list)
    items: Counter[str] = field(default_factory=Counter)  # items answered or offered for it

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "question": self.question, "count": self.count,
                "reasons": {REASONS[k]: n for k, n in self.reasons.most_common()},
                "examples": [self.examples[w] for w, _ in self.wordings.most_common(5)],
                "suggested_item": self.items.most_common(1)[0][0] if self.items else None}


def _reason(row: TurnOutcome, rated_bad: set[int]) -> str | None:
    if row.id in rated_bad:
        return "rated_bad"
    if row.followed_by in REASONS:
        return row.followed_by
    if row.outcome == "not_found":
        return "not_found"
    if row.outcome == "answered" and row.confidence is not None and row.confidence < LOW_CONFIDENCE:
        return "low_confidence"
    return None


def _rated_bad_turns(db_session: Session, since: dt.datetime) -> set[int]:
    """For each conversation rated 不满意 or worse: its last question before the rating."""
    found = set()
    for conversation_id, rated_at in db_session.execute(select(Rating.conversation_id, Rating.created_at)
                                                        .where(Rating.score <= 2, Rating.created_at >= since)):
        row = db_session.scalar(select(TurnOutcome.id).where(
            TurnOutcome.conversation_id == conversation_id, TurnOutcome.created_at <= rated_at,
            TurnOutcome.outcome.in_(("answered", "options", "not_found"))).order_by(TurnOutcome.id.desc()).limit(1))
        if row is not None:
            found.add(row)
    return found


def candidates(*, db_session: Session, now: dt.datetime | None = None) -> list[tuple[TurnOutcome, str]]:
    """The turns for review that no published version resolved yet, with why, oldest first."""
    since = (now or utcnow()) - dt.timedelta(days=DAYS)
    rated_bad = _rated_bad_turns(db_session, since)
    rows = db_session.scalars(select(TurnOutcome).where(
        TurnOutcome.created_at >= since, TurnOutcome.resolved_version.is_(None), TurnOutcome.question != "",
        TurnOutcome.outcome.in_(("answered", "options", "not_found"))).order_by(TurnOutcome.id).limit(MAX_ROWS))
    out = []
    for row in rows:
        reason = _reason(row, rated_bad)
        if reason and not row.question.startswith("/"):
            out.append((row, reason))
    return out


def group(found: list[tuple[TurnOutcome, str]]) -> list[Group]:
    """Similar questions as one group; the largest groups first."""
    groups: list[Group] = []
    for row, reason in found:
        wording = normalize(row.question) or row.question
        best = max(groups, key=lambda g: max(fuzz.ratio(wording, w) for w in g.wordings), default=None)
        if best is None or max(fuzz.ratio(wording, w) for w in best.wordings) < SIMILAR:
            best = Group(key=row.id, question=row.question)
            groups.append(best)
        best.count += 1
        best.reasons[reason] += 1
        best.wordings[wording] += 1
        best.examples.setdefault(wording, row.question)
        best.ids.append(row.id)
        for item in [row.item_id] if row.item_id else (row.options or [])[:1]:
            best.items[item] += 1
    for g in groups:
        g.question = g.examples[g.wordings.most_common(1)[0][0]]
    return sorted(groups, key=lambda g: (-g.count, g.key))


def groups(*, db_session: Session) -> list[dict[str, Any]]:
    return [g.as_dict() for g in group(candidates(db_session=db_session))]


def find_group(*, db_session: Session, key: int) -> Group:
    for g in group(candidates(db_session=db_session)):
        if g.key == key:
            return g
    raise InboxError("待复核列表中已没有这一组（可能已处理），请刷新页面。")


def item_choices(*, db_session: Session) -> list[tuple[str, str]]:
    """(id, name) of every detailed guide, for the console's item picker."""
    from knowledge.versions import content_of

    content = content_of(db_session=db_session)
    return sorted(((i, d["事项名称"]) for i, d in content.items.items() if is_guide(d)), key=lambda p: p[1])


def usable_wordings(g: Group) -> list[str]:
    """The group's questions as asked, without any masked personal data (never put into the knowledge base)."""
    return [g.examples[w] for w, _ in g.wordings.most_common() if "*" not in g.examples[w]]


def edited(content: Content, item_id: str, action: str, wordings: list[str]) -> tuple[Content, dict[str, Any], list[str]]:
    """The content with the wordings added to the item's 常见问法 (or 别名), checked as the console's form checks it:
    (new content, new document, the wordings added)."""
    if action not in ACTIONS:
        raise InboxError(f"处理方式只能是：{'、'.join(ACTIONS.values())}")
    document = content.items.get(item_id)
    if document is None:
        raise InboxError(f"当前版本中没有编号为 {item_id} 的事项。")
    field_name = "常见问法" if action == "question" else "别名"
    existing = list(document.get(field_name) or [])
    added = [w for w in wordings if w not in existing]
    if action == "alias":
        added = [w for w in added if len(w) <= 30][:3]
    if not added:
        raise InboxError(f"这些问法已经都在“{document['事项名称']}”的{field_name}里了。")
    new_document = {**document, field_name: existing + added}
    from knowledge.editing import as_form

    _checked, problems = from_form(as_form(new_document), document, [])
    if problems:
        raise InboxError("；".join(f"{p.field}：{p.reason}" for p in problems[:5]))
    return content.with_items({**content.items, item_id: new_document}), new_document, added


def event_choices(*, db_session: Session) -> list[tuple[str, str]]:
    """(编号, name) of every life event of the published version, for the console's event picker."""
    from knowledge.versions import content_of

    return [(d["编号"], d["一件事"]) for d in content_of(db_session=db_session).events]


MAX_CONDITION_CHARS = 60


def event_step(content: Content, event_id: str, item_id: str, condition: str,
               wordings: list[str]) -> tuple[Content, dict[str, Any], bool, list[str]]:
    """The content with the item as a new last step of the life event (with its condition, unless it is a step
    already) and the group's wordings as the event's 常见问法, checked as the repo's event files are checked:
    (new content, new event document, whether a step was added, the wordings added)."""
    event = next((d for d in content.events if d["编号"] == event_id), None)
    if event is None:
        raise InboxError(f"当前版本中没有编号为 {event_id} 的“一件事”。")
    document = content.items.get(item_id)
    if document is None or not is_guide(document):
        raise InboxError("请选择一个有详细办事指南的事项作为这一步。")
    condition = " ".join(condition.split())
    if len(condition) > MAX_CONDITION_CHARS:
        raise InboxError(f"办理条件请控制在 {MAX_CONDITION_CHARS} 字以内。")
    name = document["事项名称"]
    steps = list(event["步骤"])
    step_added = all(step["事项"] != name for step in steps)
    if step_added:
        steps.append({"事项": name, **({"条件": condition} if condition else {})})
    existing = list(event.get("常见问法") or [])
    added = [w for w in wordings if w not in existing and len(w) <= 60]
    if not step_added and not added:
        raise InboxError(f"“{name}”已经是“{event['一件事']}”的一步，这些问法也都在它的常见问法里了。")
    new_event = {**event, "步骤": steps, "常见问法": existing + added}
    events = [new_event if d["编号"] == event_id else d for d in content.events]
    guides = {d["事项名称"] for d in content.items.values() if is_guide(d)}
    problems = life_events.check(events, guides)
    if problems:
        raise InboxError("；".join(problem for _number, problem in problems[:5]))
    return Content(content.items, list(content.pinned), events), new_event, step_added, added


def pinned(content: Content, g: Group, text: str, item_id: str | None, reviewer: str, day: dt.date) -> tuple[Content, dict[str, Any]]:
    """The content with a pinned answer for the group's wordings (about `item_id`, if given), checked:
    (new content, the pinned answer's document)."""
    wordings = usable_wordings(g)
    if not wordings:
        raise InboxError("这一组的问法都含有遮盖的个人信息，不能设为人工答复。")
    if item_id and item_id not in content.items:
        raise InboxError(f"当前版本中没有编号为 {item_id} 的事项。")
    try:
        documents, document = pin(content.pinned, wordings, text, item_id or None, reviewer, day, set(content.items))
    except PinnedError as exc:
        raise InboxError(str(exc)) from None
    return Content(content.items, documents, list(content.events)), document


def rerun(*, db_session: Session, g: Group, index: SearchIndex, number: int, item_id: str | None = None,
          pinned_id: str | None = None, event_id: str | None = None) -> tuple[int, int]:
    """Ask the group's questions again of the new version's index: rows that now resolve to the item (or get the
    pinned answer, or the life event) leave the inbox. Returns (resolved, asked)."""
    rows = db_session.scalars(select(TurnOutcome).where(TurnOutcome.id.in_(g.ids))).all()
    if event_id:
        resolved = [row.id for row in rows
                    if getattr(life_events.asked_event(row.question, index.kb.events), "id", None) == event_id]
    elif pinned_id:
        resolved = [row.id for row in rows if getattr(index.kb.pinned.match(row.question), "id", None) == pinned_id]
    else:
        resolved = [row.id for row in rows if _resolves(index, row.question, item_id)]
    if resolved:
        db_session.execute(update(TurnOutcome).where(TurnOutcome.id.in_(resolved)).values(resolved_version=number))
    return len(resolved), len(rows)


def _resolves(index: SearchIndex, question: str, item_id: str | None) -> bool:
    entry = index.resolve(question).entry  # None unless the resolution is an answer
    return entry is not None and entry.id == item_id


def dismiss(*, db_session: Session, g: Group) -> int:
    db_session.execute(update(TurnOutcome).where(TurnOutcome.id.in_(g.ids)).values(resolved_version=DISMISSED))
    return len(g.ids)
