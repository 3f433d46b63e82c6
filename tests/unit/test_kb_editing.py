"""The console's guide form: every guide survives the form unchanged, and the review list names what is due."""
import datetime as dt

from knowledge import editing
from knowledge.content import Content, seed_content


def test_every_seed_guide_round_trips_through_the_form():
    for item_id, document in seed_content().items.items():
        if document.get("常见问法"):
            assert editing.from_form(editing.as_form(document), document, []) == (document, []), item_id


def test_an_empty_time_limit_is_unknown_and_a_bad_material_names_its_place():
    document = next(d for d in seed_content().items.values() if d.get("常见问法"))
    form = {**editing.as_form(document), "法定办结时限": "", "申请材料": "居民身份证|原件|一|必要"}
    edited, problems = editing.from_form(form, document, [])
    assert edited["法定办结时限"] is None
    assert [(p.field, p.reason) for p in problems] == [("申请材料", "第1项“居民身份证”的份数应为正整数，实际为“一”")]


def test_guides_due_for_review():
    content = Content({"a": {"事项名称": "甲", "核对日期": dt.date(2026, 1, 1)}, "b": {"事项名称": "乙", "核对日期": dt.date(2026, 11, 1)},
                       "c": {"事项名称": "丙", "核对日期": dt.date(2026, 11, 1), "示例字段": ["办理地点"]}})
    assert editing.due_for_review(content, dt.date(2026, 12, 2), 180) == [
        ("a", "甲", "核对日期 2026-01-01，已超过 180 天"), ("c", "丙", "示例字段待确认：办理地点")]
