"""A request for 代办/帮办 (a village agent runs the errand for the citizen): Rasa's agency_form. The handoff desk
recognises the request and the item before Rasa (bot/handoff/desk.py, with the knowledge base's 代办 mark) and sends
`/request_agency{"agency_item": id}`; the form asks the village and a contact, and action_finish_agency files the
work order through the desk."""
from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import explained_this_turn
from actions.desk import utter
from actions.tickets import CANCELLED, GAVE_UP, SOMETHING_ELSE, answer_as_usual, stale
from bot.handoff import texts
from bot.handoff.desk import CANCEL, phone_in
from bot.services import current
from knowledge.county import county
from knowledge.service import get_index

logger = logging.getLogger(__name__)

AGENCY_SLOTS = ("agency_item", "agency_village", "agency_contact", "agency_name", "agency_outcome", "agency_tries")

_NOT_A_NAME = re.compile(r"[\d\s,，。:：;；()（）+-]|电话|手机|姓名|联系人|我叫|我是")


def _item_name(tracker: Tracker) -> str:
    entry = get_index().kb.by_id(tracker.get_slot("agency_item") or "")
    return entry.name if entry is not None else ""


class ActionStartAgency(Action):
    """The desk found a 代办 request for an item that has the service: start the form for that item."""

    def name(self) -> str:
        return "action_start_agency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        item = next((e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == "agency_item"), None)
        # not the form's own slots: Rasa validates every form slot set in this turn when the form starts
        events = [SlotSet(slot, None) for slot in ("agency_name", "agency_outcome", "agency_tries")]
        if get_index().kb.by_id(item or "") is None:  # not sent by the desk, or an item no longer published
            dispatcher.utter_message(text=texts.choose_agency_item([e.name for e in get_index().kb.guides if e.get("代办")]).text)
            return events + [FollowupAction("action_listen")]
        return events + [SlotSet("agency_item", item), FollowupAction("agency_form")]


class ValidateAgencyForm(FormValidationAction):
    """The village (乡镇和村/社区), then a phone and a name; 取消 ends it, three wrong phones give up."""

    def name(self) -> str:
        return "validate_agency_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: dict[str, Any]) -> list[str]:
        return [] if tracker.get_slot("agency_outcome") else domain_slots

    def validate_agency_village(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        text = str(value).strip()
        if CANCEL.match(text) or text.startswith("/deny"):
            return {"agency_village": None, "agency_outcome": CANCELLED}
        if stale(tracker):
            return {"agency_village": None, "agency_outcome": SOMETHING_ELSE}
        if len(text) < 2 or text.startswith("/"):
            utter(dispatcher, [texts.ask_village(_item_name(tracker))])
            return {"agency_village": None}
        return {"agency_village": text[:128]}

    def validate_agency_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
        domain: dict[str, Any]) -> dict[str, Any]:
        if value is None:  # a reset, not an answer
            return {}
        text = str(value).strip()
        if CANCEL.match(text) or text.startswith("/deny"):
            return {"agency_contact": None, "agency_outcome": CANCELLED}
        if stale(tracker):
            return {"agency_contact": None, "agency_outcome": SOMETHING_ELSE}
        phone = phone_in(text)
        if phone is None:
            tries = int(tracker.get_slot("agency_tries") or 0) + 1
            if tries >= 3:
                return {"agency_contact": None, "agency_outcome": GAVE_UP}
            utter(dispatcher, [texts.bad_phone()])
            return {"agency_contact": None, "agency_tries": tries}
        return {"agency_contact": phone, "agency_name": _NOT_A_NAME.sub("", text)[:32]}


class ActionAskAgencyVillage(Action):
    def name(self) -> str:
        return "action_ask_agency_village"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not explained_this_turn(tracker, "agency_village"):
            utter(dispatcher, [texts.ask_village(_item_name(tracker))])
        return []


class ActionAskAgencyContact(Action):
    def name(self) -> str:
        return "action_ask_agency_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not explained_this_turn(tracker, "agency_contact"):
            utter(dispatcher, [texts.ask_agency_contact()])
        return []


class ActionFinishAgency(Action):
    """File the 代办 work order, or say why nothing was filed, or answer the message that ended the form."""

    def name(self) -> str:
        return "action_finish_agency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        reset = [SlotSet(name, None) for name in AGENCY_SLOTS]
        outcome = slot("agency_outcome")
        if outcome == SOMETHING_ELSE:
            return reset + await answer_as_usual(dispatcher, tracker, domain)
        if outcome in (CANCELLED, GAVE_UP):
            utter(dispatcher, [texts.cancelled() if outcome == CANCELLED else texts.gave_up()])
            return reset
        try:
            created = await current().desk.file_agency(tracker.sender_id, slot("agency_item") or "", slot("agency_village") or "",
                                                       slot("agency_contact") or "", slot("agency_name") or "")
        except Exception:  # noqa: BLE001  (whatever failed, the citizen is told and the hotline still takes it)
            logger.exception("代办 work order could not be filed in conversation %s", tracker.sender_id)
            dispatcher.utter_message(text=f"抱歉，代办申请暂时没能登记成功，给您添麻烦了。请拨打{county()['热线']}热线，"
                                          "工作人员会为您登记。")
            return reset
        utter(dispatcher, [created])
        return reset
