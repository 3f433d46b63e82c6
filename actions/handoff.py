"""Handoff to a person, complaints and ratings: until the operator console lands, point to the hotline."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from knowledge.answers import county


class ActionHandoffNotYet(Action):
    """Asked for a person or complaining: no online operator yet, so give the hotline honestly."""

    def name(self) -> str:
        return "action_handoff_not_yet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        c = county()
        if (tracker.latest_message.get("intent") or {}).get("name") == "complain":
            text = f"非常抱歉给您带来不好的体验。在线投诉受理还在建设中，请拨打{c['热线']}热线反映，工作人员会登记并跟进处理。"
        else:
            text = f"在线人工客服还在建设中，暂时不能在这里为您转接。请拨打{c['热线']}热线，由人工客服为您服务。"
        dispatcher.utter_message(text=text)
        dispatcher.utter_message(json_message={"action": "handoff"})  # voice transfers the call
        return []


class ActionRatingNotYet(Action):
    """Wants to rate the service: ratings are not recorded yet, say so."""

    def name(self) -> str:
        return "action_rating_not_yet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        c = county()
        dispatcher.utter_message(
            text=f"感谢您愿意评价！在线服务评价还在建设中，暂时无法记录。您的意见可以拨打{c['热线']}热线反映。"
        )
        return []
