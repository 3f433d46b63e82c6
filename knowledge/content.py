"""The knowledge as data: every item's document (Chinese field names) by item id, in order, the pinned answers
(人工干预, knowledge/pinned.py) and the life events (一件事, knowledge/events.py). A published version holds one; the
repo's YAML (knowledge/guides/*.yaml, knowledge/catalogue.yaml, knowledge/events/*.yaml and, if present,
knowledge/pinned.yaml) is the seed and the export format."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge import events as life_events
from knowledge import pinned as pinned_answers
from knowledge.loader import CATALOGUE_FILE, GUIDES_DIR, KnowledgeBase, load
from knowledge.schema import CATALOGUE_ONLY_FIELDS, GUIDE_FIELDS, Entry

DATE_FIELDS = ("核对日期",)


@dataclass
class Content:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # item id -> document
    pinned: list[dict[str, Any]] = field(default_factory=list)  # pinned answers (人工干预), knowledge/pinned.py
    events: list[dict[str, Any]] = field(default_factory=list)  # life events (一件事), knowledge/events.py

    @classmethod
    def from_kb(cls, kb: KnowledgeBase) -> Content:
        return cls({entry.id: entry.raw for entry in kb.entries})

    def with_items(self, items: dict[str, dict[str, Any]]) -> Content:
        """The same knowledge with other items (the pinned answers and life events kept)."""
        return Content(items, list(self.pinned), list(self.events))

    def by_name(self) -> dict[str, str]:
        """Item name -> item id."""
        return {document["事项名称"]: item_id for item_id, document in self.items.items()}

    def to_kb(self) -> KnowledgeBase:
        """The knowledge base of these (validated) documents. An item with example questions (常见问法) is a detailed
        guide, one class of the search model; an imported guide without them is found by its name, aliases and
        keywords, and answered from the fields it has."""
        entries = []
        for item_id, d in self.items.items():
            entries.append(Entry(
                id=item_id, name=d["事项名称"], department=d["实施主体"], type=d["事项类型"],
                detailed=bool(d.get("常见问法")) and is_guide(d), aliases=list(d.get("别名") or []),
                keywords=list(d.get("关键词") or []), questions=list(d.get("常见问法") or []),
                situations=list(d.get("常见情形") or []), raw=d,
            ))
        known = {e.id for e in entries}
        pinned = [{**d, "事项": d.get("事项") if d.get("事项") in known else None} for d in self.pinned]
        return KnowledgeBase(entries, [], pinned_answers.PinnedAnswers.of(pinned), tuple(map(life_events.of, self.events)))

    def _data(self) -> dict[str, Any]:
        """What a version stores: the items alone (as before pinned answers and events were stored), or the items, the
        pinned answers and the events."""
        return {"items": self.items, "pinned": self.pinned, "events": self.events} if self.pinned or self.events else self.items

    def to_json(self) -> bytes:
        """Compressed JSON (dates as YYYY-MM-DD), as a version stores it."""
        text = json.dumps(self._data(), ensure_ascii=False, separators=(",", ":"), default=_iso)
        return zlib.compress(text.encode("utf-8"), 6)

    @classmethod
    def from_json(cls, blob: bytes) -> Content:
        data = json.loads(zlib.decompress(blob).decode("utf-8"))
        pinned: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        if isinstance(data.get("pinned"), list) and isinstance(data.get("items"), dict):  # an item's document is never a list
            data, pinned, events = data["items"], data["pinned"], data.get("events") or []
        for document in data.values():
            for name in DATE_FIELDS:
                if isinstance(document.get(name), str):
                    document[name] = dt.date.fromisoformat(document[name])
        return cls(data, pinned, events)

    def digest(self) -> str:
        text = json.dumps(self._data(), ensure_ascii=False, sort_keys=True, default=_iso)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def export(self, directory: Path) -> tuple[int, int]:
        """Write the repo's YAML format: DIR/guides/<id>.yaml per guide, DIR/catalogue.yaml, DIR/events/<编号>.yaml per
        life event and, with pinned answers, DIR/pinned.yaml; (guides, catalogue)."""
        guides_dir = directory / "guides"
        guides_dir.mkdir(parents=True, exist_ok=True)
        catalogue = []
        for item_id, document in self.items.items():
            if is_guide(document):
                ordered = {name: document[name] for name in GUIDE_FIELDS if name in document}
                (guides_dir / f"{item_id}.yaml").write_text(_dump(ordered), encoding="utf-8")
            else:
                catalogue.append(document)
        header = "# 夹江县政务服务事项目录（目录级条目），由 `python -m bot kb export` 导出；有详细办事指南的事项见 guides/。\n"
        (directory / "catalogue.yaml").write_text(header + _dump({"事项": catalogue}), encoding="utf-8")
        events_dir = directory / life_events.EVENTS_DIR.name
        events_dir.mkdir(exist_ok=True)
        for stale in events_dir.glob("*.yaml"):
            stale.unlink()
        for event in self.events:
            (events_dir / f"{event['编号']}.yaml").write_text(_dump(event), encoding="utf-8")
        pinned_file = directory / pinned_answers.PINNED_FILE.name
        if self.pinned:
            header = "# 人工答复（人工干预）：工作人员审核发布的固定答复，群众的问题与问法一致或几乎一致时直接回答；由 `python -m bot kb export` 导出。\n"
            pinned_file.write_text(header + _dump({pinned_answers.YAML_KEY: self.pinned}), encoding="utf-8")
        elif pinned_file.exists():
            pinned_file.unlink()
        return len(self.items) - len(catalogue), len(catalogue)


def is_guide(document: dict[str, Any]) -> bool:
    """A guide has content beyond the catalogue's name, department and type."""
    return any(name in document for name in GUIDE_FIELDS if name not in CATALOGUE_ONLY_FIELDS)


def seed_hash(guides_dir: Path = GUIDES_DIR, catalogue_file: Path = CATALOGUE_FILE,
              pinned_file: Path = pinned_answers.PINNED_FILE, events_dir: Path = life_events.EVENTS_DIR) -> str:
    """Hash of the seed files' bytes (cheap: nothing is parsed)."""
    digest = hashlib.sha256()
    for path in [*sorted(guides_dir.glob("*.yaml")), catalogue_file, pinned_file, *sorted(events_dir.glob("*.yaml"))]:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def seed_content(guides_dir: Path = GUIDES_DIR, catalogue_file: Path = CATALOGUE_FILE,
                 pinned_file: Path = pinned_answers.PINNED_FILE, events_dir: Path = life_events.EVENTS_DIR) -> Content:
    """The repo's YAML as content (invalid guides are left out, as the loader leaves them out; pinned answers or life
    events that do not check are an error)."""
    content = Content.from_kb(load(guides_dir, catalogue_file))
    content.pinned = pinned_answers.read_yaml(pinned_file)
    problems = pinned_answers.check(content.pinned, set(content.items))
    if problems:
        raise ValueError(f"{pinned_file.name}: " + "；".join(problems))
    content.events = list(life_events.read_documents(events_dir).values())
    event_problems = life_events.check(content.events, {d["事项名称"] for d in content.items.values() if is_guide(d)})
    if event_problems:
        raise ValueError("events/: " + "；".join(f"{number}: {problem}" for number, problem in event_problems))
    return content


def _iso(value: object) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a knowledge version")


def _dump(data: object) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=200)
