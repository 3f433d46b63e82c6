"""Pinned answers (人工干预): an exact answer, written and reviewed by staff, for the wordings of one question.

They are part of the knowledge content (`Content.pinned`, one document each with Chinese field names), so a version
holds them: publishing, rollback, diff, hot reload and `kb export` (DIR/pinned.yaml beside guides/) cover them, and
knowledge/pinned.yaml, when the repository has one, is part of the seed. A citizen's question that equals one of the
wordings after knowledge/normalize.py, or nearly (a particle or a word more or less, never a changed or negating
character), gets the pinned answer before any search (actions/guides.py); the reply says it is staff's answer.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from rapidfuzz.distance import Levenshtein

from knowledge.normalize import normalize

if TYPE_CHECKING:
    from knowledge.answers import Answer

PINNED_FILE = Path(__file__).resolve().parent / "pinned.yaml"
YAML_KEY = "人工答复"
MIN_CHARS = 4  # a normalised wording shorter than this ("你好", "咋办") is never pinned
MAX_QUESTION_CHARS = 60
MAX_QUESTIONS = 20
MAX_ANSWER_CHARS = 200  # short: one or two sentences staff stand behind
NEGATIONS = set("不没无非未别莫否")  # a near match never differs by one of these (可以网上办 ≠ 不可以网上办)
_CJK = re.compile(r"[\u4e00-\u9fff]")


class PinnedError(ValueError):
    """A pinned answer that cannot be published; the message says why, in Chinese."""


@dataclass(frozen=True)
class PinnedAnswer:
    id: str
    questions: tuple[str, ...]
    text: str
    item: str | None  # the item it is about, if any (follow-up questions go on about that item)
    reviewer: str
    date: str  # YYYY-MM-DD

    @classmethod
    def of(cls, document: dict[str, Any]) -> PinnedAnswer:
        return cls(str(document["编号"]), tuple(document["问法"]), str(document["答复"]).strip(),
                   document.get("事项") or None, str(document.get("审核人") or ""), str(document.get("日期") or ""))


def _slack(length: int) -> int:
    """How many characters a near match may add or leave out."""
    return 1 if length < 12 else 2


def near(asked: str, wording: str) -> bool:
    """Whether two normalised questions are the same but for a few added or left-out characters, none a negation."""
    if abs(len(asked) - len(wording)) > _slack(len(wording)):
        return False
    ops = Levenshtein.editops(wording, asked)
    if len(ops) > _slack(len(wording)) or any(op.tag == "replace" for op in ops):
        return False
    changed = [wording[op.src_pos] if op.tag == "delete" else asked[op.dest_pos] for op in ops]
    return not NEGATIONS.intersection(changed)


class PinnedAnswers:
    """A version's pinned answers, matched against citizens' questions."""

    def __init__(self, answers: tuple[PinnedAnswer, ...] = ()):
        self.answers = answers
        self._exact = {normalize(q): a for a in answers for q in a.questions if len(normalize(q)) >= MIN_CHARS}

    def __len__(self) -> int:
        return len(self.answers)

    @classmethod
    def of(cls, documents: list[dict[str, Any]]) -> PinnedAnswers:
        return cls(tuple(PinnedAnswer.of(d) for d in documents))

    def match(self, text: str) -> PinnedAnswer | None:
        """The pinned answer of a question: one of its wordings exactly, else nearly, after normalisation."""
        if not self._exact or not text or text.startswith("/"):
            return None
        asked = normalize(text)
        if len(asked) < MIN_CHARS:
            return None
        found = self._exact.get(asked)
        if found is not None:
            return found
        return next((a for wording, a in self._exact.items() if near(asked, wording)), None)


def check(documents: list[dict[str, Any]], item_ids: set[str]) -> list[str]:
    """Problems of a content's pinned answers, in Chinese (empty: fine)."""
    problems: list[str] = []
    seen: dict[str, Any] = {}
    ids: set[Any] = set()
    for n, d in enumerate(documents, 1):
        where = f"第 {n} 条人工答复"
        if not isinstance(d, dict) or not d.get("编号") or not isinstance(d.get("问法"), list) or not isinstance(d.get("答复"), str):
            problems.append(f"{where}：应有 编号、问法（列表）和 答复")
            continue
        if d["编号"] in ids:
            problems.append(f"{where}：编号 {d['编号']} 重复")
        ids.add(d["编号"])
        text = d["答复"].strip()
        letters = [c for c in text if c.isalpha()]
        if not 4 <= len(text) <= MAX_ANSWER_CHARS:
            problems.append(f"{where}：答复应为 4 到 {MAX_ANSWER_CHARS} 个字")
        elif len(_CJK.findall(text)) < 0.6 * len(letters):
            problems.append(f"{where}：答复应使用中文")
        if "*" in text:
            problems.append(f"{where}：答复含有遮盖的个人信息（*）")
        if not 1 <= len(d["问法"]) <= MAX_QUESTIONS:
            problems.append(f"{where}：问法应有 1 到 {MAX_QUESTIONS} 条")
        for q in d["问法"]:
            wording = normalize(str(q))
            if "*" in str(q):
                problems.append(f"{where}：问法“{q}”含有遮盖的个人信息（*）")
            elif not MIN_CHARS <= len(wording) <= MAX_QUESTION_CHARS:
                problems.append(f"{where}：问法“{q}”太短或太长（{MIN_CHARS} 到 {MAX_QUESTION_CHARS} 个字）")
            elif wording in seen and seen[wording] != d["编号"]:
                problems.append(f"{where}：问法“{q}”已有人工答复（{seen[wording]}）")
            seen.setdefault(wording, d["编号"])
        if d.get("事项") and d["事项"] not in item_ids:
            problems.append(f"{where}：知识库没有编号为 {d['事项']} 的事项")
    return problems


def pin(documents: list[dict[str, Any]], questions: list[str], text: str, item: str | None, reviewer: str, day: dt.date,
        item_ids: set[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The pinned answers with a new one for `questions` (each wording once after normalisation), checked:
    (all documents, the new document). Raises PinnedError."""
    wordings = list({normalize(q): q.strip() for q in reversed(questions) if q.strip()}.values())[::-1]
    existing = {d.get("编号") for d in documents}
    number = next(n for n in range(1, len(documents) + 2) if f"P{n}" not in existing)
    document = {"编号": f"P{number}", "问法": wordings, "答复": text.strip(), "事项": item or None, "审核人": reviewer,
                "日期": day.isoformat()}
    problems = check([*documents, document], item_ids)
    if problems:
        raise PinnedError("；".join(problems[:5]))
    return [*documents, document], document


def read_yaml(path: Path = PINNED_FILE) -> list[dict[str, Any]]:
    """The pinned answers of a YAML file (DIR/pinned.yaml of an export), none when it does not exist."""
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [dict(d) for d in data.get(YAML_KEY) or []]


STAFF_LEAD = "【工作人员答复】"


def reply(answer: PinnedAnswer, item_name: str | None = None, item_id: str | None = None) -> Answer:
    """The citizen's reply: staff's text, said to be staff's, with the way to the item's guide and to a person."""
    from knowledge.answers import Answer

    reviewed = "县12345热线工作人员审核发布" + (f"，{answer.date}" if answer.date else "")
    buttons = [{"title": f"{item_name}办事指南"[:30], "payload": f'/choose_item{{"item_id":"{item_id}"}}'}] if item_id and item_name else []
    buttons.append({"title": "转人工客服", "payload": "/request_human"})
    return Answer(f"{STAFF_LEAD}{answer.text}\n（{reviewed}；与您的情况不符的，可以回复“转人工”。）", buttons)
