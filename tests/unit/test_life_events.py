"""Life events whose steps are alternatives (knowledge/events.py: chosen_step): a question that says one step's
condition is about that step; one that says only what the event itself is called is about the whole event."""
import pytest

from knowledge.events import chosen_step, condition_terms, events


def event(event_id):
    return next(e for e in events() if e.id == event_id)


def test_a_conditions_words_are_its_parts_without_the_verb():
    assert condition_terms("去香港、澳门") == ["香港", "澳门"]


@pytest.mark.parametrize("question, item", [
    ("去香港耍要办啥子证件", "往来港澳通行证及签注签发"), ("去澳门要办哪些证", "往来港澳通行证及签注签发"),
    ("我要出国去打工，要办些啥子", None),  # 出国 is the event's own name: the whole event
    ("出境旅游要准备啥", None),
])
def test_a_question_that_says_one_steps_condition_chooses_it(question, item):
    step = chosen_step(event("travel-abroad"), question)
    assert (step.item if step else None) == item


def test_an_event_whose_steps_are_all_needed_chooses_none():
    assert chosen_step(event("open-company"), "开公司要办哪些手续") is None  # its steps have no conditions


@pytest.mark.parametrize("question, event_id", [
    ("我想开公司，要办些啥子", "open-company"), ("我明年退休，要办些啥子手续", "retirement"),
    ("我退休后去成都帮女儿带娃，想直接刷卡结算，出发前要办啥子？", None),  # retired: told, not the event asked for
    ("我那个小公司开不下去了，想关了，要办些啥子", "close-business"),  # a company closing, not one opened
    ("上了年纪的福利有啥子可以办的没得", "elderly"), ("我们开店有啥可以办的", "open-shop"),  # what there is to do
])
def test_an_event_asked_for_by_what_people_call_it(question, event_id):
    from knowledge.events import asked_event

    found = asked_event(question, tuple(events()))
    assert (found.id if found else None) == event_id


@pytest.mark.parametrize("text", ["我想开个火锅店 要办些啥子手续", "我和我媳妇想在县城开个冒菜馆，要办哪些证哦？"])
def test_a_shop_of_any_kind_is_the_shop_event(text):
    from knowledge.events import asked_event, events

    event = asked_event(text, events())
    assert event is not None and event.id == "open-shop"
    assert asked_event("开宾馆除了执照还要办啥子许可证", events()) is None  # a hotel's licence: the search answers it
