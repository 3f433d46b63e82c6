"""Grounded answers: every fact from a field; missing fields said plainly; catalogue items routed."""
import pytest

from knowledge.answers import ASPECTS, answer, aspects_in, choose, only_an_aspect, unknown
from knowledge.schema import Entry
from knowledge.service import get_index


@pytest.fixture(scope="module")
def kb():
    return get_index().kb


def test_materials_answer_lists_exactly_the_guide_materials(kb):
    for guide in kb.guides:
        text = answer(guide, "materials").text
        lines = [line for line in text.splitlines() if line[:1].isdigit() and ". " in line]
        assert len(lines) == len(guide.materials), guide.id
        for line, material in zip(lines, guide.materials):
            assert line.split(". ", 1)[1].startswith(material.name + "（"), (guide.id, line)


@pytest.mark.parametrize("aspect", ASPECTS)
def test_every_answer_names_item_department_and_date(kb, aspect):
    for guide in kb.guides:
        text = answer(guide, aspect).text
        assert guide.name in text and guide.department in text and guide.verified in text, (guide.id, aspect)


def test_fee_and_time_come_from_fields(kb):
    guide = kb.by_name("居民身份证办理（包括临时）")
    assert guide.get("收费标准") in answer(guide, "fee").text
    assert f"{guide.get('承诺办结时限')}个工作日" in answer(guide, "time_limit").text


def test_missing_field_is_said_plainly_with_the_way_onward(kb):
    raw = dict(kb.guides[0].raw, 法定办结时限=None, 承诺办结时限=None, 申请材料=[])
    guide = Entry(id="x", name="测试事项", department="夹江县测试局", type="公共服务", detailed=True, raw=raw)
    for aspect in ("time_limit", "materials"):
        text = answer(guide, aspect).text
        assert "知识库里暂时没有" in text and "12345" in text and "https://www.sczwfw.gov.cn/" in text
        assert "个工作日" not in text


def test_catalogue_only_item_routes_to_department_and_portal(kb):
    entry = next(e for e in kb.entries if not e.detailed)
    text = answer(entry, "materials").text
    assert entry.department in text and "四川政务服务网" in text and "12345" in text
    assert "需要准备以下材料" not in text


def test_choose_and_unknown_offer_buttons(kb):
    reply = choose(kb.guides[:3], question_is_vague=True)
    assert [b["title"] for b in reply.buttons] == [g.name for g in kb.guides[:3]]
    assert all(b["payload"].startswith("/choose_item{") for b in reply.buttons)
    assert "12345" in unknown().text


@pytest.mark.parametrize("text, only", [
    ("要带什么材料", True), ("多久能办好", True), ("要拿些啥子去", True), ("收费不", True),
    ("办下来要多久", True), ("多久能批下来", True), ("社保卡办下来要多久", False),  # getting it done names no matter
    ("身份证要带什么材料", False), ("我妈今年满八十了 要带啥", False), ("你好", False),
])
def test_an_aspect_asked_without_a_matter(text, only):
    assert only_an_aspect(text) is only


@pytest.mark.parametrize("text, aspect", [
    ("开无犯罪证明当天能拿到吗", "time_limit"), ("低保是先在村上报还是先去民政局", "procedure"),
    ("设置户外广告牌审批要不要交费？帮我约周二上午", "fee"), ("在夹江补身份证一次能办完不？", "visits"), ("跑一趟能办好不", "visits"),
    ("要些啥子", "materials"), ("社保卡补办要些啥子东西", "materials"),
    ("好久开始发", "time_limit"), ("好久开始报名", "location_hours"),  # a payout's start is a time limit, an enrolment's a date
    ("医保电子凭证又是啥子", "item"), ("那重度残疾人护理补贴是咋回事", "item"),  # what the thing is: the overview
    ("周六办不办", "location_hours"), ("礼拜天开不开门", "location_hours"),  # open then?
    ("那港澳通行证呢，也要那么久？", "time_limit"),  # as long as the one before
])
def test_more_ways_of_asking_an_aspect(text, aspect):
    assert aspects_in(text)[:1] == [aspect]


@pytest.mark.parametrize("text", ["娃娃读书要社保缴费记录，去哪里打", "听说政府可以免费派律师，要准备什么"])
def test_fee_words_in_a_story_ask_no_fee(text):
    assert "fee" not in aspects_in(text)


def test_the_address_on_a_document_asks_no_place():
    assert aspects_in("她身份证上的地址也要跟到换，那身份证呢") == []  # (the switch keeps the aspect asked before)
    assert aspects_in("办理地址在哪") == ["location_hours"]


def test_being_sent_oneself_is_not_asking_who_may_go():
    assert aspects_in("刚毕业 单位让我去做就业登记 网上可以弄吗") == ["online"]
    assert aspects_in("让我妈去办可以不") == ["visits"]


@pytest.mark.parametrize("text, aspects", [
    ("新公司申请开发票，流程是怎样的，要跑几次？", ["procedure", "visits"]),  # 怎样 asks (dev26: the steps were dropped)
    ("手续是咋样的，要多久", ["procedure", "time_limit"]),
])
def test_both_aspects_of_a_question_asked_with_how_it_goes(text, aspects):
    assert aspects_in(text) == aspects


def test_what_to_bring_is_no_question_of_what_the_thing_is():
    assert "item" not in aspects_in("要带的是啥")


def test_what_formalities_to_go_through_asks_the_conditions_and_the_steps():
    from knowledge.answers import how_asked

    assert how_asked("我明年一月份满六十，一直是单位上交的社保，要办啥子手续") == ["item", "procedure"]
    assert how_asked("外地户口要办哪些手续？") == ["item", "procedure"]
    assert how_asked("手续办好了") == []
