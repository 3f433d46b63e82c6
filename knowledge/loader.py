"""Load and validate the knowledge base: detailed guides (one YAML file each) and the catalogue."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from knowledge.events import LifeEvent
from knowledge.normalize import normalize
from knowledge.pinned import PinnedAnswers
from knowledge.schema import Entry, Problem, validate_catalogue_entry, validate_guide

KNOWLEDGE_DIR = Path(__file__).resolve().parent
GUIDES_DIR = KNOWLEDGE_DIR / "guides"
CATALOGUE_FILE = KNOWLEDGE_DIR / "catalogue.yaml"


class KnowledgeError(Exception):
    """The knowledge base has problems; `problems` lists each with file, field and reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"知识库有 {len(problems)} 个问题：\n" + "\n".join(map(str, problems)))


@dataclass
class KnowledgeBase:
    entries: list[Entry]
    problems: list[Problem]
    pinned: PinnedAnswers = field(default_factory=PinnedAnswers)  # staff's answers to exact questions (人工干预)
    events: tuple[LifeEvent, ...] = ()  # life events (一件事), knowledge/events.py

    @property
    def guides(self) -> list[Entry]:
        return [e for e in self.entries if e.detailed]

    @cached_property
    def guide_names(self) -> frozenset[str]:
        """Every detailed guide's name and aliases, normalised: the words that are one item's own."""
        return frozenset(normalize(n) for e in self.guides for n in [e.name, *e.aliases])

    def by_id(self, entry_id: str) -> Entry | None:
        return self._ids.get(entry_id)

    def by_name(self, name: str) -> Entry | None:
        return self._names.get(name)

    def __post_init__(self) -> None:
        self._ids = {e.id: e for e in self.entries}
        self._names = {e.name: e for e in self.entries}


def catalogue_id(name: str) -> str:
    """Stable id of a catalogue-only item, from its name."""
    return "c-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:10]


def _read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problems.append(Problem(path.name, "(文件)", f"无法解析 YAML：{exc}".replace("\n", " ")))
        return None


def load(guides_dir: Path = GUIDES_DIR, catalogue_file: Path | None = CATALOGUE_FILE, strict: bool = False) -> KnowledgeBase:
    """Read every guide and the catalogue; invalid guides are left out and reported in `problems`."""
    problems: list[Problem] = []
    entries: list[Entry] = []
    names: dict[str, str] = {}
    for path in sorted(guides_dir.glob("*.yaml")):
        data = _read_yaml(path, problems)
        if data is None and problems and problems[-1].file == path.name:
            continue
        found = validate_guide(data, path.name)
        if not found and data["事项名称"] in names:
            found = [Problem(path.name, "事项名称", f"与 {names[data['事项名称']]} 重名")]
        if found:
            problems.extend(found)
            continue
        names[data["事项名称"]] = path.name
        entries.append(
            Entry(
                id=path.stem,
                name=data["事项名称"],
                department=data["实施主体"],
                type=data["事项类型"],
                detailed=True,
                aliases=list(data["别名"]),
                keywords=list(data["关键词"]),
                questions=list(data["常见问法"]),
                situations=list(data.get("常见情形") or []),
                raw=data,
            )
        )
    if catalogue_file is not None and catalogue_file.exists():
        data = _read_yaml(catalogue_file, problems)
        items = (data or {}).get("事项") if isinstance(data, dict) else None
        if data is not None and not isinstance(items, list):
            problems.append(Problem(catalogue_file.name, "事项", "应为事项列表"))
            items = []
        for i, item in enumerate(items or []):
            found = validate_catalogue_entry(item, catalogue_file.name, i)
            if found:
                problems.extend(found)
                continue
            if item["事项名称"] in names:  # a detailed guide exists: it wins
                continue
            names[item["事项名称"]] = catalogue_file.name
            entries.append(
                Entry(
                    id=catalogue_id(item["事项名称"]),
                    name=item["事项名称"],
                    department=item["实施主体"],
                    type=item["事项类型"],
                    aliases=list(item.get("别名") or []),
                    raw=item,
                )
            )
    if strict and problems:
        raise KnowledgeError(problems)
    return KnowledgeBase(entries, problems)
