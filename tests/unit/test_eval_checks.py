"""The evaluation's reading of a reply (bot/eval_dialogue.py): an answer to two aspects gives each its block, and a
turn expecting either is right; an aspect only mentioned inside the overview is not answered."""
import datetime as dt

import yaml

from bot.eval_dialogue import CONVERSATIONS, DEV_SPLITS, check_turn, classify, situation_questions

TODAY = dt.date(2026, 12, 8)
HOW_TO = ("【最低生活保障】夹江县民政局\n受理条件：本县户籍……\n主要材料：居民身份证\n承诺办结时限：30个工作日\n\n"
          "办理流程：\n1. 申请\n2. 审核\n信息核对日期：2026-11-25。")


def test_an_answer_with_the_conditions_and_the_steps_answers_both():
    turn = classify([{"text": HOW_TO}], TODAY)
    assert turn.aspect == "item" and turn.aspects == ["item", "procedure"]
    expect = {"kind": "answer", "item": "最低生活保障"}
    assert check_turn({**expect, "aspect": "procedure"}, turn) == []
    assert check_turn({**expect, "aspect": "item"}, turn) == []


def test_a_line_of_the_overview_is_no_answer_to_its_aspect():
    turn = classify([{"text": HOW_TO.split("\n\n")[0]}], TODAY)  # the overview names the time limit in a line
    assert turn.aspects == ["item"]
    assert check_turn({"kind": "answer", "item": "最低生活保障", "aspect": "time_limit"}, turn) == ["aspect item"]


def test_an_answer_the_channel_sent_block_by_block_answers_each_block():
    """Rasa's REST channel splits a message without buttons at its blank lines ("…怎么办，顺便约个号": the answer, then
    the booking's question): the steps in the message after the overview are part of the answer; a message after
    something else is not."""
    overview, steps = HOW_TO.split("\n\n")
    booking = {"text": "预约办理“最低生活保障”。请问您想约哪天？"}
    turn = classify([{"text": overview}, {"text": steps}, booking], TODAY)
    assert turn.answered == "最低生活保障" and turn.aspects == ["item", "procedure"]
    assert check_turn({"kind": "answer", "item": "最低生活保障", "aspect": "procedure"}, turn) == []
    assert classify([{"text": overview}, booking, {"text": steps}], TODAY).aspects == ["item"]
    assert classify([{"text": steps}], TODAY).aspects == []  # no answer named before it


EVENT = [{"text": "【一件事：买二手房贷款】买二手房办理不动产转移登记……\n1. 不动产转移登记：……\n2. 不动产抵押登记（贷款买房）：……",
          "buttons": [{"title": "第1步：不动产转移登记", "payload": "/choose_item"}, {"title": "第2步：不动产抵押登记", "payload": "/choose_item"}]}]


def test_a_life_events_steps_are_the_items_offered():
    turn = classify(EVENT, TODAY)
    assert turn.event and turn.answered is None and turn.options == ["不动产转移登记", "不动产抵押登记"]
    assert check_turn({"kind": "clarify", "options_include": ["不动产抵押登记"]}, turn) == []
    assert check_turn({"kind": "clarify", "options_include": ["户口迁移审批"]}, turn) == ["options lack ['户口迁移审批']"]
    assert check_turn({"kind": "answer"}, turn) == []  # the whole event asked: its steps are the answer
    assert check_turn({"kind": "answer", "item": "不动产转移登记"}, turn) == ["no answer"]  # one item expected


def test_a_life_event_given_to_a_question_outside_the_knowledge_base_is_an_answer():
    from bot.eval_dialogue import outcome

    turn = classify(EVENT, TODAY)
    assert outcome({"item": None}, turn) == "answered_detailed"
    assert outcome({"item": "不动产抵押登记"}, turn) == "offered"


def test_a_booking_request_done_at_once_is_in_the_booking_flow():
    # the writers expected the code or phone to be asked for; a booking this conversation made is looked up at once
    done = "为您查到：预约码 VT9F2Z（有效）：12月10日 09:00-09:30，办理“社会保障卡补领、换领、换发”。"
    assert check_turn({"kind": "booking_asks"}, classify([{"text": done}], TODAY)) == []
    assert check_turn({"kind": "booking_asks"}, classify([{"text": "已为您取消预约，名额已释放。"}], TODAY)) == []
    assert check_turn({"kind": "booking_asks"}, classify([{"text": "没有找到这个预约：请核对预约码和预约时留的手机号。"}], TODAY)) == []
    assert check_turn({"kind": "booking_asks"}, classify([{"text": "好的。还有什么想了解的，请直接告诉我。"}], TODAY)) == \
        ["not in the booking flow"]


def test_every_writers_set_is_reported():
    """A new writer's split that make eval does not list would be run and never reported."""
    conversations = yaml.safe_load(CONVERSATIONS.read_text(encoding="utf-8"))["conversations"]
    splits = {q["split"] for q in situation_questions()} | {c["split"] for c in conversations}
    assert splits <= {"tune", "held_out", *DEV_SPLITS}


def test_untrained_tuning_questions_are_run_but_never_learnt():
    """tests/eval/untrained.yml is run and reported with the others, and the search's model (knowledge/asked.yaml only)
    never learns it: its figures are of questions the model has not seen."""
    from bot.eval_dialogue import ASKED, UNTRAINED
    untrained = [q for q in situation_questions() if q.get("source") == "untrained"]
    learnt = {q["id"] for q in yaml.safe_load(ASKED.read_text(encoding="utf-8"))["questions"]}
    assert untrained and len(untrained) == len(yaml.safe_load(UNTRAINED.read_text(encoding="utf-8"))["questions"])
    assert not learnt & {q["id"] for q in untrained}  # (a short question may be word for word another writer's)
