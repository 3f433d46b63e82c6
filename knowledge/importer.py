"""Import guide files into a new knowledge content: type the values, strip HTML, check every item, merge with the
published version, and say what would change. Nothing is published here (knowledge/versions.py does that, and only
when the report has no error).

An imported item replaces the fields it gives and keeps the ones it does not (an official export has no 常见问法,
and the county's own stay); an empty cell gives nothing. With `replace`, items the files do not hold are removed.
"""
from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from knowledge.content import Content, is_guide
from knowledge.diff import Diff, diff
from knowledge.import_formats import ImportRefused, Record, read
from knowledge.loader import catalogue_id
from knowledge.schema import MATERIAL_FIELDS, Problem, validate_guide

LISTS = {"别名", "关键词", "常见问法", "常见情形", "办理流程", "设定依据", "示例字段"}
WORDS = {"别名", "关键词", "示例字段"}  # short words: 、 and commas separate them too
BOOLS = {"是否收费", "是否网办", "是否支持预约办理", "预约需身份证号", "代办", "示例"}
LIMITS = {"法定办结时限", "承诺办结时限"}
TRUE, FALSE = {"是", "true", "True", "TRUE", "1", "Y", "y", "有", "支持"}, {"否", "false", "False", "FALSE", "0", "N", "n", "无", "不支持"}
_ITEMS = re.compile(r"\s*(?:\r?\n|[；;])\s*")  # one list item a line, or separated by semicolons
_LINES = re.compile(r"\s*\r?\n\s*")  # a cell with line breaks: one item a line, semicolons are text
_WORDS = re.compile(r"\s*(?:\r?\n|[；;、，,])\s*")
_DAYS = re.compile(r"^(\d+)\s*(?:个)?\s*(?:工作日)?$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
# Tags of HTML (not the 《》-like <…> of law titles in Chinese text): removed, their text kept; script and style whole.
_HTML_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_HTML_TAG = re.compile(r"</?(?:p|br|div|span|a|b|i|u|strong|em|font|table|tbody|thead|tr|td|th|ul|ol|li|h[1-6]|img|hr|sup|sub|"
                       r"pre|code|section|article|center|iframe|style|script)\b[^<>]*/?>", re.I)
_ENTITY = re.compile(r"&(?:nbsp|lt|gt|amp|quot|#\d+);")


@dataclass
class Plan:
    """What an import would do: the new content (when there is no error), the diff, and the report's lines."""

    files: list[str]
    content: Content | None
    diff: Diff
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    items: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def report(self, limit: int | None = 20) -> list[str]:
        lines = [f"校验：读取 {self.items} 个事项，错误 {len(self.problems)} 个，提示 {len(self.notes)} 个。"]
        lines += [f"错误  {p}" for p in self.problems]
        shown = self.notes if limit is None else self.notes[:limit * 5]
        lines += [f"提示  {p}" for p in shown]
        if len(shown) < len(self.notes):
            lines.append(f"提示  …另有 {len(self.notes) - len(shown)} 个提示")
        if self.ok:
            lines += ["与当前版本相比："] + self.diff.lines(limit)
        return lines


def plan(paths: list[Path], current: Content, replace: bool = False, progress: bool = False) -> Plan:
    """Read, check and merge the files against the current content."""
    result = Plan([p.name for p in paths], None, Diff())
    records: list[Record] = []
    for path in paths:
        try:
            reading = read(path)
        except ImportRefused as exc:
            result.problems.append(Problem(path.name, "(文件)", str(exc).split(": ", 1)[-1]))
            continue
        except OSError as exc:
            result.problems.append(Problem(path.name, "(文件)", f"无法读取：{exc.strerror or exc}"))
            continue
        records += reading.records
        result.problems += reading.problems
        result.notes += reading.notes
    result.items = len(records)
    merged = current.with_items(dict(current.items) if not replace else {})  # pinned answers are kept
    ids_by_name = current.by_name()
    seen_names: dict[str, str] = {}
    seen_codes: dict[str, str] = {}  # code -> item name
    seen_codes_where: dict[str, str] = {}
    skipped_catalogue = 0
    for record in tqdm(records, desc="校验", unit="项", disable=not progress or len(records) < 200, leave=False):
        data = _typed(record, result)
        name = data.get("事项名称")
        if not isinstance(name, str) or not name.strip():
            result.problems.append(Problem(record.where, "事项名称", "缺少或为空"))
            continue
        if name in seen_names and _file(seen_names[name]) == _file(record.where):
            result.problems.append(Problem(record.where, "事项名称", f"与{seen_names[name]}重复"))
            continue
        code = data.get("实施编码")
        if code and code in seen_codes and seen_codes[code] != name:
            result.problems.append(Problem(record.where, "实施编码", f"“{code}”与{seen_codes_where[code]}重复"))
            continue
        item_id = ids_by_name.get(name) or (_new_id(record, name, current, merged) if name not in seen_names else catalogue_id(name))
        before = merged.items.get(item_id, {})
        if not is_guide(data) and is_guide(before):  # as in the seed: a catalogue line never overrides a guide
            skipped_catalogue += 1
            continue
        seen_names[name] = record.where
        if code:
            seen_codes[code], seen_codes_where[code] = name, record.where
        document = {**before, **data}
        result.problems += validate_guide(document, record.where, imported=True)
        merged.items[item_id] = document
    if skipped_catalogue:
        result.notes.append(Problem("(全部文件)", "(目录条目)", f"{skipped_catalogue} 个目录条目已有详细办事指南，保留指南内容"))
    if result.ok:
        result.content = merged
        result.diff = diff(current, merged)
    return result


def _file(where: str) -> str:
    return where.split(" ", 1)[0]


def _new_id(record: Record, name: str, current: Content, merged: Content) -> str:
    """A YAML guide keeps its file's stem as id when that is free; other new items get the catalogue's id of the name."""
    if record.item_id and record.item_id not in current.items and record.item_id not in merged.items:
        return record.item_id
    return catalogue_id(name)


# -- values -----------------------------------------------------------------------------------------
def typed(record: Record) -> tuple[dict[str, Any], list[Problem], list[Problem]]:
    """(fields as the schema types them, problems, notes) of one record, as an import reads it (the console's form)."""
    result = Plan([], None, Diff())
    return _typed(record, result), result.problems, result.notes


def _typed(record: Record, result: Plan) -> dict[str, Any]:
    """The record's fields as the schema types them; empty values are left out (the item keeps what it had)."""
    data: dict[str, Any] = {}
    for name, value in record.data.items():
        value = _clean(value, record.where, name, result)
        if value == "" or value == [] or (value is None and name not in LIMITS):  # null: a time limit said to be unknown
            continue
        try:
            data[name] = _as_field(name, value)
        except ValueError as exc:
            result.problems.append(Problem(record.where, name, str(exc)))
    return data


def _clean(value: Any, where: str, name: str, result: Plan) -> Any:
    """Strings trimmed, HTML tags removed (said in the report), in lists and materials too."""
    if isinstance(value, str):
        text = _HTML_BLOCK.sub("", value)
        text = _HTML_TAG.sub(lambda m: "\n" if m.group(0).lower().startswith(("<br", "<p", "</p", "<li", "<div")) else "", text)
        if text != value:
            text = html.unescape(text)
            result.notes.append(Problem(where, name, "含 HTML 标签，已去除标签、保留文字"))
        elif _ENTITY.search(text):
            text = html.unescape(text)
        return re.sub(r"\n\s*\n+", "\n", text).strip()
    if isinstance(value, list):
        return [_clean(v, where, name, result) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v, where, f"{name}.{k}", result) for k, v in value.items()}
    return value


def _as_field(name: str, value: Any) -> Any:
    """One field's value from text (tables) or as given (JSON, YAML); ValueError says what is expected, in Chinese."""
    if not isinstance(value, str) and name != "申请材料":
        return value  # typed already; the schema check says whether the type is right
    if name in LISTS:
        return [v for v in (_WORDS if name in WORDS else _items(value)).split(value) if v]
    if name in BOOLS:
        if value in TRUE or value in FALSE:
            return value in TRUE
        raise ValueError(f"应为“是”或“否”，实际为“{value}”")
    if name == "到办事现场次数":
        if value.isdigit():
            return int(value)
        raise ValueError(f"应为次数（0、1、2），实际为“{value}”")
    if name in LIMITS:
        match = _DAYS.match(value)
        return int(match.group(1)) if match else (0 if value == "即办" else value)
    if name == "核对日期":
        match = _DATE.match(value)
        try:
            return dt.date(*map(int, match.groups())) if match else dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"应为日期 YYYY-MM-DD，实际为“{value}”") from None
    if name == "常见问题":
        pairs = [line.split("|", 1) for line in _items(value).split(value) if line]
        if not all(len(p) == 2 and p[0].strip() and p[1].strip() for p in pairs):
            raise ValueError("每条应写成“问|答”，一行一条")
        return [{"问": q.strip(), "答": a.strip()} for q, a in pairs]
    if name == "申请材料":
        return _materials(value)
    return value


def _items(text: str) -> re.Pattern[str]:
    return _LINES if "\n" in text else _ITEMS


MATERIAL_ORDER = list(MATERIAL_FIELDS)  # 名称|材料类型|份数|必要性|来源|备注


def _materials(value: Any) -> list[dict[str, Any]]:
    """Materials from a cell (one a line or separated by ；, attributes after |: 名称|材料类型|份数|必要性|来源|备注),
    or from material rows / JSON (份数 as text is made a number)."""
    if isinstance(value, str):
        rows = []
        for n, part in enumerate(_items(value).split(value), 1):
            if not part:
                continue
            cells = [c.strip() for c in part.split("|")]
            if len(cells) > len(MATERIAL_ORDER):
                raise ValueError(f"第{n}项“{part[:20]}”有 {len(cells)} 段，最多 {len(MATERIAL_ORDER)} 段："
                                 + "|".join(MATERIAL_ORDER))
            rows.append({k: v for k, v in zip(MATERIAL_ORDER, cells) if v})
        value = rows
    if not isinstance(value, list):
        raise ValueError("应为材料列表")
    out = []
    for n, material in enumerate(value, 1):
        if not isinstance(material, dict):
            raise ValueError(f"第{n}项应为材料（名称、材料类型、份数、必要性…）")
        material = {k: v for k, v in material.items() if v not in (None, "")}
        copies = material.get("份数")
        if isinstance(copies, str):
            if not re.fullmatch(r"\d+\s*份?", copies):
                raise ValueError(f"第{n}项“{material.get('名称', '')}”的份数应为正整数，实际为“{copies}”")
            material["份数"] = int(copies.rstrip("份 "))
        out.append(material)
    return out
