"""The handoff desk as actions use it: its replies said through Rasa's dispatcher, escalation to a person, and what
a citizen hears when the desk cannot be reached."""
from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.errors import AppError
from bot.messages import Reply
from bot.services import current
from knowledge.county import county

logger = logging.getLogger(__name__)

# The ticket form's slots (domain.yml): the offer made and why, then the choice, the description and the phone.
TICKET_SLOTS = ("ticket_offered", "ticket_reason", "ticket_kind", "ticket_description", "ticket_phone", "ticket_outcome", "ticket_tries")


def utter(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    """The desk's replies as Rasa messages; a reply's action ("handoff") follows it as a custom message."""
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=[b.model_dump() for b in reply.buttons] or None)
        if reply.action:
            dispatcher.utter_message(json_message={"action": reply.action})


def desk_unavailable(dispatcher: CollectingDispatcher, error: Exception) -> None:
    logger.error("handoff desk failed: %r", error)
    dispatcher.utter_message(text=f"抱歉，在线人工客服暂时无法接入。请拨打{county()['热线']}热线，由人工客服为您服务。")
    dispatcher.utter_message(json_message={"action": "handoff"})


async def escalate(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[dict[str, Any]]:
    """Queue for an operator on duty; off duty (or nobody at a desk), the offer of a message or a callback, whose
    choice Rasa's ticket_form takes (actions/tickets.py). Returns the events that start that form: ticket_offered for
    the rules (nlu_data/rules.yml), and a follow-up for the paths no rule describes (a request made inside a form)."""
    try:
        escalation = await current().desk.escalate(tracker.sender_id, reason)
    except (AppError, RuntimeError) as error:
        desk_unavailable(dispatcher, error)
        return [SlotSet("ticket_offered", None)]
    utter(dispatcher, escalation.replies)
    if not escalation.offline:
        return [SlotSet("ticket_offered", None)]  # queued: no form, whatever an earlier turn left
    # The form's own slots are left alone: Rasa validates every form slot set in this turn when the form starts, and
    # action_finish_ticket resets them all when it ends.
    return [SlotSet("ticket_reason", reason), SlotSet("ticket_outcome", None), SlotSet("ticket_tries", None),
            SlotSet("ticket_offered", True), FollowupAction("ticket_form")]


# asking for a person ("转人工", "找个真人"), and asking to talk to the staff rather than about them ("有没有工作人员 我直接问")
# ("找个接电话的妹儿", "你们领导电话多少": a person who answers the phone, someone in charge)
PERSON = re.compile(r"转(?:个|接|一下|下)?人工|人工客服|人工服务|找人工|要人工|接人工|真人客服|(找|喊|叫|换|要)个?真人|接线员|话务员|找个人来|喊个人来|叫个人来|"
                    r"(找|喊|叫|换|要)个?(接电话|接线)的|(找|喊|叫)(你们)?(领导|负责人)|(领导|负责人)的?(电话|手机)|"
                    r"(喊|叫|找|让|安排)个?人.{0,6}(回|打)个?电话|给我回个?电话|回个电话给我")  # a call back asked for
WANTS_STAFF = re.compile(r"(有没有|找|要跟|跟|和|换)个?(工作人员|真人|人工|客服)")


def asks_for_a_person(text: str) -> bool:
    return bool(PERSON.search(text or ""))


def wants_a_person(text: str) -> bool:
    """A person asked for in words, or the staff rather than the assistant ("有没有工作人员 我直接问"); not a button."""
    return not (text or "").startswith("/") and (asks_for_a_person(text) or bool(WANTS_STAFF.search(text)))


# "你说慢点 没听清", "再说一遍": the last answer again (on the phone above all)
_SAY_AGAIN = re.compile(r"没听清楚?|没听到|没听见|听不清楚?|再说一[遍次下]|再讲一[遍次下]|重复一[遍次下]|说慢一?点|慢一?点说|刚才说的啥子?")
_AROUND_SAY_AGAIN = re.compile(r"[你您我说再讲一下点哈嘛呢啊呀喂嗯，,。！!？?\s]")


def says_again(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> bool:
    """"你说慢点 没听清": the assistant's messages of the turn before, said again (True), with nothing else asked."""
    if not _SAY_AGAIN.search(text or "") or _AROUND_SAY_AGAIN.sub("", _SAY_AGAIN.sub("", text)):
        return False
    said: list[dict[str, Any]] = []
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                break
        elif event.get("event") == "bot" and users == 1 and (event.get("text") or "").strip():
            said.insert(0, event)
    if not said:
        return False
    dispatcher.utter_message(text="好的，我再说一遍：")
    for event in said:
        dispatcher.utter_message(text=event["text"], buttons=(event.get("data") or {}).get("buttons") or None)
    return True


def says_goodbye(text: str) -> bool:
    """A goodbye word ("再见", "拜拜", "拜", "88", "先这样"), in the booking form or the appeal intake alike."""
    return bool(re.search(r"再见|拜拜|^拜[拜了啦]*$|(?<![\d\s])88(?![\d\s]*\d)|先这样", text or ""))


def goodbye_then_rating(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """As the goodbye rule does: the goodbye, then the invitation to rate the service (unless rated a moment ago),
    whose answer Rasa's rating_form takes (actions/ratings.py)."""
    dispatcher.utter_message(response="utter_goodbye")
    return [FollowupAction("action_offer_rating")]
