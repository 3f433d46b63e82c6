"""Pinned answers (人工干预): matching after normalisation, the checks, and that they live in the versioned content
(stored and read back, digest, export, diff, kept by edits and imports)."""
import datetime as dt

import pytest

from knowledge import pinned
from knowledge.content import Content, seed_content
from knowledge.diff import diff
from knowledge.pinned import PinnedAnswers, PinnedError, check, near, pin

ANSWER = "结婚证遗失的，请带身份证和户口本到县民政局婚姻登记处申请补领。"
DAY = dt.date(2026, 12, 1)


def answers(*documents: dict) -> PinnedAnswers:
    return PinnedAnswers.of(list(documents))


def doc(number: str, questions: list[str], text: str = ANSWER, item=None) -> dict:
    return {"编号": number, "问法": questions, "答复": text, "事项": item, "审核人": "admin", "日期": DAY.isoformat()}


def test_exact_after_normalisation_and_near_matches():
    found = answers(doc("P1", ["红本本掉了咋整"]), doc("P2", ["养狗要不要办证"]))
    assert found.match("红本本掉了咋整").id == "P1"
    assert found.match("請問，紅本本掉了咋個整？").id == "P1"  # traditional, filler, dialect 咋个 → 怎么, punctuation
    assert found.match("红本本掉了咋整嘛").id == "P1"  # a particle more
    assert found.match("红本本掉咋整").id == "P1"  # a character less
    assert found.match("养狗要不要办证呢").id == "P2"


def test_no_match_for_other_questions():
    found = answers(doc("P1", ["红本本掉了咋整"]), doc("P2", ["可以网上办结婚登记吗"]))
    for text in ["绿本本掉了咋整",  # a changed character
                 "红本本没掉咋整", "不可以网上办结婚登记吗",  # a negation added
                 "红本本掉了咋整要多少钱",  # a question more
                 "结婚证丢了怎么补办", "", "/greet", "你好"]:
        assert found.match(text) is None, text
    assert PinnedAnswers().match("红本本掉了咋整") is None


def test_near_is_insertions_and_deletions_only():
    assert near("红本本掉了怎么整嘛", "红本本掉了怎么整")
    assert not near("红本本丢了怎么整", "红本本掉了怎么整")
    assert not near("红本本不掉了怎么整", "红本本掉了怎么整")


def test_checks_say_what_is_wrong_in_chinese():
    items = {"marriage"}
    assert check([doc("P1", ["红本本掉了咋整"], item="marriage")], items) == []
    problems = check([doc("P1", ["红本本掉了咋整"], text="Please visit the civil affairs bureau.")], items)
    assert problems == ["第 1 条人工答复：答复应使用中文"]
    assert "至多" not in " ".join(check([doc("P1", ["红本本掉了咋整"], text="请" * 200)], items))
    assert any("4 到 200" in p for p in check([doc("P1", ["红本本掉了咋整"], text="请" * 201)], items))
    assert any("遮盖" in p for p in check([doc("P1", ["我叫王**，红本本掉了"])], items))
    assert any("太短" in p for p in check([doc("P1", ["咋办"])], items))
    assert any("已有人工答复" in p for p in check([doc("P1", ["红本本掉了咋整"]), doc("P2", ["红本本掉了咋个整"])], items))
    assert any("没有编号为 nothing" in p for p in check([doc("P1", ["红本本掉了咋整"], item="nothing")], items))


def test_pin_numbers_dedupes_and_refuses():
    documents, first = pin([], ["红本本掉了咋整", "红本本掉了咋个整", "红本本搞丢了咋整"], ANSWER, None, "admin", DAY, set())
    assert first["编号"] == "P1" and first["问法"] == ["红本本掉了咋整", "红本本搞丢了咋整"]  # one per normalised wording
    documents, second = pin(documents, ["养狗要不要办证"], "养犬登记请咨询县公安局。", None, "admin", DAY, set())
    assert second["编号"] == "P2" and len(documents) == 2
    with pytest.raises(PinnedError, match="已有人工答复"):
        pin(documents, ["红本本掉了咋整"], ANSWER, None, "admin", DAY, set())


def test_pinned_answers_are_part_of_the_versioned_content(tmp_path):
    content = seed_content()
    assert content.pinned == []
    old_digest = content.digest()
    with_pin = Content(content.items, [doc("P1", ["红本本掉了咋整"])])
    back = Content.from_json(with_pin.to_json())
    assert back.pinned == with_pin.pinned and back.items.keys() == content.items.keys()
    assert back.digest() == with_pin.digest() != old_digest
    assert Content.from_json(content.to_json()).digest() == old_digest  # versions without pinned answers unchanged
    assert back.to_kb().pinned.match("红本本掉了咋整").id == "P1"
    # a guide edit or an import keeps them
    assert with_pin.with_items({**with_pin.items}).pinned == with_pin.pinned
    # diff names them
    assert "人工答复：" in diff(content, with_pin).lines() and diff(with_pin, back).pinned == []
    assert any(line.startswith("  - P1") for line in diff(with_pin, content).lines())
    # export writes pinned.yaml beside guides/, which the seed reads back
    with_pin.export(tmp_path)
    assert (tmp_path / "pinned.yaml").exists()
    seeded = seed_content(tmp_path / "guides", tmp_path / "catalogue.yaml", tmp_path / "pinned.yaml")
    assert seeded.pinned == with_pin.pinned
    content.export(tmp_path)
    assert not (tmp_path / "pinned.yaml").exists()  # an export without pinned answers leaves no stale file


def test_an_item_that_left_is_dropped_from_the_answer_not_the_answer():
    content = seed_content()
    kb = Content(content.items, [doc("P1", ["红本本掉了咋整"], item="gone-item")]).to_kb()
    assert kb.pinned.match("红本本掉了咋整").item is None


def test_the_reply_says_it_is_staffs():
    found = answers(doc("P1", ["红本本掉了咋整"])).match("红本本掉了咋整")
    shown = pinned.reply(found, "补领结婚证", "marriage")
    assert shown.text.startswith("【工作人员答复】" + ANSWER) and "工作人员审核发布" in shown.text
    assert [b["title"] for b in shown.buttons] == ["补领结婚证办事指南", "转人工客服"]
