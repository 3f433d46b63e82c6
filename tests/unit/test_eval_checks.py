"""The evaluation's reading of a reply (bot/eval_dialogue.py): an answer to two aspects gives each its block, and a
turn expecting either is right; an aspect only mentioned inside the overview is not answered."""
import datetime as dt

from bot.eval_dialogue import check_turn, classify

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
