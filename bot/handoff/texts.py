"""What citizens read about handoffs, work orders and ratings: polite, plain Simplified Chinese."""
from __future__ import annotations

from bot.clock import TZ, aware
from bot.handoff.models import RATING_LEVELS, WORK_ORDER_CATEGORIES, WORK_ORDER_STATUSES, WorkOrder
from bot.messages import Button, Reply
from knowledge.county import county

LEADS = {
    "asked": "好的，正在为您转接人工客服。",
    "fallback": "抱歉，我连续两次没能理解您的问题，已为您转接人工客服。",
    "complaint": "非常抱歉给您带来不好的体验，已为您优先转接人工客服。",
    "sensitive": "您反映的情况需要工作人员亲自处理，已为您优先转接人工客服。如遇人身安全等紧急情况，请立即拨打110（医疗急救请拨120）。",
    "caller": "好的，正在为您转接人工客服。",
}
OFFLINE_LEADS = {
    "fallback": "抱歉，我连续两次没能理解您的问题。",
    "complaint": "非常抱歉给您带来不好的体验。",
    "sensitive": "您反映的情况需要工作人员处理。如遇人身安全等紧急情况，请立即拨打110（医疗急救请拨120）。",
}
NO_THANKS = Button(title="不用了", payload="不用了")
CANCEL_HINT = "（发送“取消”可退出）"


def hotline() -> str:
    return str(county()["热线"])


def queued(reason: str, position: int, wait: int, already: bool = False) -> Reply:
    lead = "您已经在排队等待人工客服了，" if already else LEADS.get(reason, LEADS["asked"])
    ahead = "前面没有其他人，" if position == 1 else f"您前面还有{position - 1}位，"
    text = (f"{lead}当前排在第{position}位，{ahead}预计等待约{wait}分钟。\n"
            "等待期间您可以继续向我提问，人工客服接入时会在这里提醒您。不想等了请发送“取消排队”。")
    return Reply(text=text, action="handoff")


def being_served() -> Reply:
    return Reply(text="人工客服正在为您服务，请直接发送您的问题。")


def transferring() -> Reply:
    return Reply(text="好的，正在为您转接人工客服，请稍候。", action="handoff")


def offline(reason: str, off_hours: bool, duty: str) -> Reply:
    lead = OFFLINE_LEADS.get(reason, "")
    if off_hours:
        lead += f"现在不是在线人工客服的服务时间（{duty}）。"
    else:
        lead += "现在在线人工客服暂时都不在座位上。"
    first = "留言投诉：写下您要投诉的情况" if reason == "complaint" else "留言：写下您要咨询或反映的事情"
    text = (f"{lead}您可以：\n1. {first}，工作人员上班后处理并答复您；\n2. 预约回电：留下电话，工作人员上班后给您回电。\n"
            f"急事也可以直接拨打{hotline()}热线。请点选：")
    return Reply(text=text, buttons=[Button(title="留言", payload="留言"), Button(title="预约回电", payload="预约回电"), NO_THANKS])


def ticket_choice() -> Reply:
    return Reply(text="请问您想留言，还是预约回电？", buttons=offline("asked", off_hours=False, duty="").buttons)


def when_answered() -> Reply:
    """"好久能打过来" while the choice waits: when staff answer, and the choice again."""
    return Reply(text=f"工作人员上班后会尽快处理：留言会在这里答复您，预约回电会打到您留的电话。急事请直接拨打{hotline()}热线。"
                      "请问您想留言，还是预约回电？", buttons=offline("asked", off_hours=False, duty="").buttons)


def ask_description(category: str) -> Reply:
    if category == "callback":
        return Reply(text="好的，请简单说明需要工作人员回电解答什么问题" + CANCEL_HINT + "。")
    if category == "complaint":
        return Reply(text="请说明您要投诉的情况：哪个窗口或部门、大概什么时间、发生了什么" + CANCEL_HINT + "。")
    return Reply(text="好的，请留言：用一两句话说明您要咨询或反映的事情" + CANCEL_HINT + "。")


def too_short() -> Reply:
    return Reply(text="内容有点少，请再具体说一说，方便工作人员处理" + CANCEL_HINT + "。")


def ask_contact(category: str) -> Reply:
    if category == "callback":
        return Reply(text="请留下方便接听的电话号码（手机或带区号的座机），工作人员会在工作时间给您回电。")
    if category == "complaint":
        return Reply(text="您反映的情况已记下，会作为投诉转给相关部门。请留下联系电话（手机或带区号的座机），方便工作人员答复您；"
                          "不想留电话请回复“不留”，答复会发到这里。")
    return Reply(text="请留下联系电话（手机或带区号的座机），方便工作人员答复您；不想留电话请回复“不留”，答复会发到这里。")


def bad_phone() -> Reply:
    return Reply(text="这个号码好像不完整，请输入11位手机号，或带区号的座机号（例如0833-5123456）" + CANCEL_HINT + "。")


def ticket_created(order: WorkOrder) -> Reply:
    what = WORK_ORDER_CATEGORIES[order.category]
    then = "给您回电" if order.category == "callback" else "处理并答复您"
    return Reply(text=f"已为您登记工单，编号 {order.number}（{what}）。工作人员会在工作时间尽快{then}。"
                      "请记好工单编号，之后发送编号就能查询办理进度。")


def goodbye() -> Reply:
    return Reply(text="感谢您的咨询，祝您办事顺利，再见！")  # as utter_goodbye in domain.yml


def callback_dropped() -> Reply:
    return Reply(text="没有留下电话，这次回电登记先取消了。需要时请再说“回电”，或直接拨打" + hotline() + "热线。")


def nothing_left() -> Reply:
    return Reply(text="好的，这次没有登记留言。需要时请再说“留言”，或直接拨打" + hotline() + "热线。")


# a callback's work order when the citizen ended the form before saying what it is about (operators read it)
MATTER_NOT_SAID = "市民未说明具体事项，请回电时询问（对话记录见本会话）。"


def cancelled() -> Reply:
    return Reply(text="好的，已取消。还有什么需要帮忙的，请直接告诉我。")


def gave_up() -> Reply:
    return Reply(text=f"抱歉，还是没能记下有效的电话号码，这次登记先取消了。您可以稍后再试，或直接拨打{hotline()}热线。")


def queue_cancelled() -> Reply:
    return Reply(text="好的，已为您取消人工排队。还有问题可以继续问我。")


# --- 代办/帮办 -------------------------------------------------------------------------------------

def choose_agency_item(names: list[str]) -> Reply:
    lines = "\n".join(f"{n}. {name}" for n, name in enumerate(names, 1))
    return Reply(text=f"请问您想申请代办哪一项？目前可以代办帮办的事项有：\n{lines}\n请点选：",
                 buttons=[Button(title=name, payload=f"申请代办 {name}") for name in names])


def not_agency(name: str, names: list[str]) -> Reply:
    return Reply(text=f"“{name}”暂不在代办帮办服务清单里。目前可以申请代办的有：{'、'.join(names)}。"
                      f"这项业务的办理方法可以直接问我，或拨打{hotline()}热线咨询。")


def ask_village(name: str) -> Reply:
    return Reply(text=f"“{name}”可以申请代办帮办：由乡镇便民服务中心和村（社区）代办员帮您跑腿办理，"
                      "适合行动不便的老人和离乡镇远的群众。\n请告诉我您所在的乡镇和村（社区），例如“甘江镇某某村”" + CANCEL_HINT + "。")


def ask_agency_contact() -> Reply:
    return Reply(text="请留下联系人姓名和电话，例如“张三 13800000000”，代办员会联系您约定收取材料或上门的时间。")


def agency_created(order: WorkOrder) -> Reply:
    return Reply(text=f"已登记您的代办申请，工单编号 {order.number}（{order.item_name}）。代办员会在工作时间联系您，"
                      "请先按办事指南备好材料。发送工单编号可以查询办理进度。")


# --- work order status ----------------------------------------------------------------------------

def work_order_status(order: WorkOrder | None, number: str, own: bool) -> Reply:
    if order is None:
        return Reply(text=f"没有查到编号为 {number.upper()} 的工单，请核对编号（GD加10位数字），或拨打{hotline()}热线查询。")
    day = aware(order.created_at).astimezone(TZ)
    text = (f"工单 {order.number}（{WORK_ORDER_CATEGORIES[order.category]}，{day.month}月{day.day}日登记）"
            f"目前的状态是：{WORK_ORDER_STATUSES[order.status]}。")
    if order.reply and own:
        text += f"\n工作人员的答复：{order.reply}"
    elif order.reply:
        text += "\n工作人员已经答复，答复内容发在您登记工单的那次对话里，也可以拨打热线查询。"
    elif order.status in ("new", "in_progress"):
        text += "工作人员会在工作时间尽快处理，请耐心等待。"
    return Reply(text=text)


def work_order_reply(order: WorkOrder) -> Reply:
    return Reply(text=f"关于您的工单 {order.number}，工作人员答复如下：\n{order.reply}", sender="operator")


# --- the operator joins and leaves ----------------------------------------------------------------

def operator_joined(name: str) -> Reply:
    return Reply(text=f"人工客服（{name}）已接入，请直接发送您的问题。", sender="system")


def handed_back() -> Reply:
    return Reply(text="人工客服已将对话交还给智能助手，您可以继续提问；需要人工服务时，随时发送“转人工”。", sender="system")


def closed() -> Reply:
    return Reply(text="本次人工服务已结束，感谢您的耐心。", sender="system")


def waiting_closed() -> Reply:
    return Reply(text="您的转人工排队已由工作人员结束。如仍需要人工服务，请再次发送“转人工”。", sender="system")


# --- ratings --------------------------------------------------------------------------------------

def rating_offer(after_operator: bool = False) -> Reply:
    lines = "\n".join(f"{n}. {level}" for n, level in enumerate(RATING_LEVELS, 1))
    what = "人工客服的服务" if after_operator else "本次服务"
    return Reply(text=f"请您对{what}做个评价：\n{lines}\n请点选：",
                 buttons=[Button(title=level, payload=level) for level in RATING_LEVELS])


def rating_thanks(level: str, order: WorkOrder | None) -> Reply:
    if order is not None:
        return Reply(text=f"感谢您的评价（{level}）。很抱歉这次没能让您满意，我们已登记回访工单 {order.number}，工作人员会尽快联系核实、改进。"
                          "您也可以直接发送具体意见，帮助我们改进；不需要请回复“不用了”。", buttons=[NO_THANKS])
    return Reply(text=f"感谢您的评价（{level}）！如果愿意，可以再说说您的意见或建议，直接发送即可；不需要请回复“不用了”。",
                 buttons=[NO_THANKS])


def ask_comment() -> Reply:
    return Reply(text="您还有什么意见或建议吗？直接发送即可；不需要请回复“不用了”。", buttons=[NO_THANKS])


def comment_thanks() -> Reply:
    return Reply(text="已记录您的意见，谢谢您！祝您办事顺利。")


def rating_done() -> Reply:
    return Reply(text="好的，感谢您的使用，祝您办事顺利！")
