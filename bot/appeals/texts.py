"""What citizens read about their appeals (Simplified Chinese; short enough for voice)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from bot.clock import TZ, aware
from bot.handoff.models import RATING_LEVELS, WORK_ORDER_STATUSES, WorkOrder
from bot.messages import Button, Reply


def _day(value: dt.datetime) -> str:
    day = aware(value).astimezone(TZ)
    return f"{day.month}月{day.day}日"


def filed(order: WorkOrder, department_name: str) -> str:
    where = f"已转交{department_name}办理" if order.status == "dispatched" else "工作人员会尽快核实并转交承办部门"
    due = f"，办理期限到{_day(order.due_at)}" if order.due_at else ""
    text = (f"您的{order.appeal_type or '诉求'}已登记，工单编号 {order.number}，{where}{due}。"
            "办理结果会在这里告诉您；发送工单编号也可以随时查询进度。")
    if order.urgent:  # a person at risk cannot wait for a work order
        text = "情况紧急，已优先交热线工作人员处理。如有人身危险，请立即拨打110、119或120。\n" + text
    return text


def status(order: WorkOrder, department_name: str, own: bool) -> Reply:
    text = f"工单 {order.number}（{order.appeal_type or '诉求'}，{_day(order.created_at)}登记）目前的状态是：{WORK_ORDER_STATUSES[order.status]}"
    if order.status in ("dispatched", "accepted") and department_name:
        text += f"，承办部门：{department_name}"
    if order.status in ("review", "dispatched", "accepted", "returned") and order.due_at:
        text += f"，办理期限：{_day(order.due_at)}"
    text += "。"
    if order.reply and own:
        text += f"\n部门答复：{order.reply}"
    elif order.reply:
        text += "\n部门已经答复，答复发在您登记工单的那次对话里，也可以拨打热线查询。"
    return Reply(text=text)


def answer_opening(order: WorkOrder) -> str:
    return f"关于您的工单 {order.number}，"


def answer(order: WorkOrder, department_name: str, voice: bool = False) -> Reply:
    if voice:  # an SMS to a phone caller: short, and no buttons to press
        return Reply(text=f"【夹江12345】您的工单{order.number}，{department_name}答复：{order.reply[:300]}"
                          "如不满意，请拨打12345并告知工单编号。")
    lines = "\n".join(f"{n}. {level}" for n, level in enumerate(RATING_LEVELS, 1))
    return Reply(text=f"{answer_opening(order)}{department_name}答复如下：\n{order.reply}\n\n"
                      f"请您对这次办理结果做个评价：\n{lines}",
                 buttons=[Button(title=level, payload=level) for level in RATING_LEVELS], sender="operator")


def rated(level: str, reopened: bool) -> Reply:
    if reopened:
        return Reply(text=f"收到您的评价（{level}）。很抱歉没能让您满意，工单已重新交给热线审核，工作人员会再次核实处理。"
                          "您也可以直接说说哪里不满意。")
    return Reply(text=f"感谢您的评价（{level}）！祝您生活顺利。")


OFFER_LEAD = "这听起来是需要有关部门处理的问题"


def offer(department_name: str) -> tuple[str, list[dict[str, Any]]]:
    """A question the guides do not answer that describes a problem: offer to file it (the button starts the form)."""
    return (f"{OFFER_LEAD}（一般由{department_name}办理），办事指南里没有现成的答复。"
            "我可以帮您登记诉求工单，转给部门按期限办理并答复您。需要登记吗？",
            [{"title": "登记诉求工单", "payload": "/complain"}, {"title": "不用了", "payload": "/deny"}])
