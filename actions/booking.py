"""Appointments ("5+X"): until online booking lands, say honestly how to book today."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from knowledge.answers import county
from knowledge.service import get_index


class ActionBookingNotYet(Action):
    """Booking and cancelling are not available in chat yet: say so, with the phone and hall hours."""

    def name(self) -> str:
        return "action_booking_not_yet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list[dict[str, Any]]:
        c = county()
        text = f"抱歉，在线预约、改约和取消功能还在建设中，现在还不能在这里办理，我也不会替您登记一个不存在的预约。需要预约“5+X”延时错时服务，请拨打{c['热线']}热线。{c['政务服务中心']}办理时间：{c['办理时间']}。"
        resolution = get_index().resolve(tracker.latest_message.get("text") or "")
        entry = resolution.entry or get_index().kb.by_id(tracker.get_slot("item") or "")
        if entry is not None and entry.detailed:
            bookable = "支持" if entry.get("是否支持预约办理") else "暂不支持"
            text += f"\n“{entry.name}”{bookable}预约办理（{entry.department}，信息核对日期：{entry.verified}）。"
        dispatcher.utter_message(text=text)
        return []
