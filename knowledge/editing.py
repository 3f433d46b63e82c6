"""A guide edited in the console: the document as form text and back (read as an import reads a table's cells),
checked as the schema says, previewed as the assistant would answer, and the guides due for review."""
from __future__ import annotations

import datetime as dt
from typing import Any

from knowledge.answers import ASPECT_TITLES, answer, aspect_in
from knowledge.content import Content
from knowledge.import_formats import Record
from knowledge.importer import BOOLS, LIMITS, LISTS, typed
from knowledge.schema import GUIDE_FIELDS, MATERIAL_FIELDS, Problem, validate_guide

FORM_FIELDS = [name for name in GUIDE_FIELDS if name != "示例字段"]  # 示例字段: marked, confirmed one by one
WHERE = "表单"


def as_form(document: dict[str, Any]) -> dict[str, str]:
    """Every form field's text: lists one item a line, materials and FAQ as `a|b|…` lines, yes/no as 是/否."""
    form = {}
    for name in FORM_FIELDS:
        value = document.get(name)
        if value is None:
            form[name] = ""
        elif name == "申请材料":
            form[name] = "\n".join("|".join(str(m.get(k, "")) for k in MATERIAL_FIELDS).rstrip("|") for m in value)
        elif name == "常见问题":
            form[name] = "\n".join(f"{qa['问']}|{qa['答']}" for qa in value)
        elif name in LISTS:
            form[name] = "\n".join(value)
        elif name in BOOLS:
            form[name] = "是" if value else "否"
        else:
            form[name] = value.isoformat() if isinstance(value, dt.date) else str(value)
    return form


def from_form(form: dict[str, str], before: dict[str, Any], confirmed: list[str]) -> tuple[dict[str, Any], list[Problem]]:
    """The edited document and its problems. A curated guide (with 常见问法) is held to every rule of the schema, an
    imported one to the import's; the sample fields a person confirmed leave 示例字段."""
    data, problems, _notes = typed(Record(WHERE, {k: v for k, v in form.items() if k in FORM_FIELDS}))
    for name in LIMITS:
        if name in form and name not in data:
            data[name] = None  # an empty time limit: unknown
    sample = [name for name in before.get("示例字段") or [] if name not in confirmed]
    if sample:
        data["示例字段"] = sample
    unreadable = {p.field for p in problems}  # said already: not "missing" as well
    problems += [p for p in validate_guide(data, WHERE, imported=not before.get("常见问法"))
                 if not (p.field in unreadable and p.reason == "缺少必填字段")]
    return data, problems


def preview(item_id: str, document: dict[str, Any], question: str = "") -> list[tuple[str, str]]:
    """How the assistant answers: the aspect a test question asks for, or every aspect."""
    entry = Content({item_id: document}).to_kb().entries[0]
    asked = aspect_in(question) if question else None
    aspects = [asked] if asked else ["item", *ASPECT_TITLES]
    return [(ASPECT_TITLES.get(aspect, "概况"), answer(entry, aspect).text) for aspect in aspects]


def due_for_review(content: Content, today: dt.date, days: int) -> list[tuple[str, str, str]]:
    """(id, name, why) of guides whose 核对日期 is older than `days`, or that still have sample fields; oldest first."""
    rows = []
    for item_id, document in content.items.items():
        verified = document.get("核对日期")
        if isinstance(verified, dt.date) and (today - verified).days > days:
            rows.append((verified.isoformat(), item_id, document["事项名称"], f"核对日期 {verified.isoformat()}，已超过 {days} 天"))
        elif document.get("示例字段"):
            rows.append(("9999", item_id, document["事项名称"], "示例字段待确认：" + "、".join(document["示例字段"])))
    return [(item_id, name, why) for _, item_id, name, why in sorted(rows)]
