"""Rating the service (服务评价) on the national five levels: Rasa's rating_form. action_offer_rating starts it when the
citizen asks to rate, after a goodbye, and when the app triggers offer_rating (an operator closed the conversation, a
department's answer to an appeal arrived: bot/handoff/invitations.py). The form takes the level (a word, or the number
of the offered option), then an optional comment; the handoff desk stores both (bot/handoff/desk.py). A message that
is neither ends the form and is answered as it would have been without it."""
from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import utter
from actions.guides import answer_question, asks_of_current, latest_intent, switches_item
from actions.service_question import asks_about_a_service
from actions.tickets import LEAVING, QUESTION, SOMETHING_ELSE, answer_as_usual, said_this_turn, stale
from bot.errors import AppError
from bot.handoff import texts
from bot.handoff.desk import CANCEL
from bot.handoff.ratings import level_of
from bot.services import current
from knowledge.county import county

logger = logging.getLogger(__name__)

RATING_SLOTS = ("rating_offered", "rating_level", "rating_comment", "rating_id", "rating_outcome")
NO_COMMENT = re.compile(r"^(没有了?|没了|没啥|谢谢|好的|好|行|可以了?|就这样|不说了)[。！!.，,\s]*$")
# How the form ends early (rating_outcome): no comment asked, no comment given, the citizen left.
RATED, DONE, LEFT = "rated", "done", "left"
ASK_INTENTS = ("ask_materials", "ask_procedure", "ask_time_limit", "ask_fee", "ask_location_hours", "ask_online", "ask_visits",
               "ask_item", "book_appointment", "cancel_appointment", "change_booking", "request_human", "complain")


def _subject(tracker: Tracker) -> str | None:
    """What offer_rating asks to rate ("handoff:<id>", "appeal:<number>"), else the subject still waiting for a rating."""
    if latest_intent(tracker) == "offer_rating":
        return next((str(e.get("value")) for e in tracker.latest_message.get("entities") or []
                     if e.get("entity") == "rating_subject"), None)
    subject = tracker.get_slot("rating_subject")
    return str(subject) if subject else None


def _apology(dispatcher: CollectingDispatcher, error: Exception) -> None:
    logger.error("rating failed: %r", error)
    dispatcher.utter_message(text=f"抱歉，评价暂时无法记录。您的意见可以拨打{county()['热线']}热线反映。")


class ActionOfferRating(Action):
    """Record the level the citizen named when asking to rate, or offer the five levels (after a goodbye, unless rated
    a moment ago; for an appeal's answer the answer itself asked). Sets rating_offered when rating_form should run."""

    def name(self) -> str:
        return "action_offer_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent, subject = latest_intent(tracker), _subject(tracker)
        events: list[dict[str, Any]] = [SlotSet(name, None) for name in RATING_SLOTS if tracker.get_slot(name) is not None]
        not_now = events + [SlotSet("rating_offered", None)]
        events += [SlotSet("rating_subject", subject), SlotSet("rating_offered", True)]
        desk = current().desk
        try:
            if intent == "rate_service":
                text = tracker.latest_message.get("text") or ""
                level = level_of(text)
                if level is None and not text.startswith("/") and (switches_item(text) or asks_of_current(tracker, text)
                                                                    or asks_about_a_service(text)):
                    return not_now + answer_question(dispatcher, tracker)  # "打参保证明呢": a question, read as a rating
                if level is not None:  # "服务很好，非常满意": rated at once, a comment invited
                    rated = await desk.rate(tracker.sender_id, level, subject)
                    utter(dispatcher, [rated.reply])
                    if rated.rating_id is None:
                        return not_now + [SlotSet("rating_subject", None)]
                    return events + [SlotSet("rating_level", level), SlotSet("rating_id", rated.rating_id), SlotSet("rating_subject", None),
                                     FollowupAction("rating_form")]
            elif intent != "offer_rating" and await desk.rated_recently(tracker.sender_id):  # a goodbye just after rating
                return not_now
        except (AppError, RuntimeError) as error:
            if intent == "rate_service":
                _apology(dispatcher, error)
            else:
                logger.error("rating failed: %r", error)
            return not_now
        if not (subject or "").startswith("appeal:") or intent != "offer_rating":  # an appeal's answer asked already
            utter(dispatcher, [texts.rating_offer(after_operator=(subject or "").startswith("handoff:"))])
        # FollowupAction: also when a flow other than the rules' (a goodbye that ended a form) offers the rating
        return events + [FollowupAction("rating_form")]


class ValidateRatingForm(FormValidationAction):
    """The level, then the comment; 不用了/再见 ends it; a message that is neither ends it too and is answered as usual."""

    def name(self) -> str:
        return "validate_rating_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        return [] if tracker.get_slot("rating_outcome") else domain_slots

    async def validate_rating_level(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        if tracker.get_slot("rating_id") is not None:  # named when asking to rate: stored already
            return {"rating_level": value}
        text = str(value).strip()
        subject = tracker.get_slot("rating_subject") or ""
        if stale(tracker) and not subject.startswith("appeal:"):  # an appeal's answer may be read hours later
            return {"rating_level": None, "rating_outcome": SOMETHING_ELSE}
        level = level_of(text, allow_number=True)
        if level is None:
            if CANCEL.match(text) or LEAVING.search(text) or latest_intent(tracker) == "goodbye":
                return {"rating_level": None, "rating_outcome": LEFT}
            return {"rating_level": None, "rating_outcome": SOMETHING_ELSE}
        try:
            rated = await current().desk.rate(tracker.sender_id, level, subject or None)
        except (AppError, RuntimeError) as error:
            _apology(dispatcher, error)
            return {"rating_level": None, "rating_outcome": DONE}
        utter(dispatcher, [rated.reply])
        if rated.rating_id is None:  # nothing more asked
            return {"rating_level": level, "rating_outcome": RATED}
        return {"rating_level": level, "rating_id": rated.rating_id}

    async def validate_rating_comment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        text = str(value).strip()
        if CANCEL.match(text) or NO_COMMENT.match(text) or text.startswith("/deny") or (
                LEAVING.search(text) and len(text) <= 12):
            utter(dispatcher, [texts.rating_done()])
            return {"rating_comment": None, "rating_outcome": DONE}
        if stale(tracker) or (latest_intent(tracker) in ASK_INTENTS and QUESTION.search(text)) or text.startswith("/"):
            return {"rating_comment": None, "rating_outcome": SOMETHING_ELSE}  # a new question, not a comment
        try:
            utter(dispatcher, [await current().desk.comment(int(tracker.get_slot("rating_id")), text)])
        except (AppError, RuntimeError, TypeError, ValueError) as error:
            _apology(dispatcher, error)
        return {"rating_comment": text}


class ActionAskRatingLevel(Action):
    """The five levels: offered just before the form started; asked again only if they were not."""

    def name(self) -> str:
        return "action_ask_rating_level"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not said_this_turn(tracker) and latest_intent(tracker) != "offer_rating":
            utter(dispatcher, [texts.rating_offer()])
        return []


class ActionAskRatingComment(Action):
    """The comment: the thanks for the level has just invited it."""

    def name(self) -> str:
        return "action_ask_rating_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not said_this_turn(tracker):
            utter(dispatcher, [texts.ask_comment()])
        return []


class ActionFinishRating(Action):
    """Say goodbye to a citizen who left, or answer the message that ended the form; the form's slots are reset (the
    subject too once it was rated, so a later rating is of the service in general)."""

    def name(self) -> str:
        return "action_finish_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        outcome = tracker.get_slot("rating_outcome")
        reset = [SlotSet(name, None) for name in RATING_SLOTS]
        if tracker.get_slot("rating_level") is not None:
            reset.append(SlotSet("rating_subject", None))
        if outcome == SOMETHING_ELSE:
            return reset + await answer_as_usual(dispatcher, tracker, domain)
        if outcome == LEFT:
            utter(dispatcher, [texts.rating_done()])
        return reset
