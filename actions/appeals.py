"""Citizens' appeals (诉求: 投诉、求助、举报、建议) in dialogue: an intake form that takes what happened, where, since when,
what the citizen wants and a contact (or 匿名), reads the whole order back and files it with the appeals office
(bot/appeals/office.py), which classifies, routes and stores it before the citizen hears its number.

Every answer may carry more than it was asked for ("黄土镇新华村，上个月开始的"): all of it is taken, so nothing is
asked twice. Cancelling words end the form at any step; a correction at the read-back changes that detail and reads
the order back again."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from starlette.concurrency import run_in_threadpool

from actions.booking import explained_this_turn, name_in
from actions.desk import asks_for_a_person, escalate, goodbye_then_rating, says_goodbye, wants_a_person
from actions.guides import answer_in_passing, answer_question, latest_intent, takes_up_the_appeal
from actions.service_question import a_detail_not_a_complaint, is_service_question, says_nothing_more, says_thanks
from bot.appeals import texts
from bot.appeals.service import Intake
from bot.booking.service import asks_to_book, books_in_words
from bot.handoff.desk import phone_in
from bot.privacy import mask
from bot.services import current
from knowledge.county import county
from knowledge.service import get_index

logger = logging.getLogger(__name__)

FORM_SLOTS = ["appeal_what", "appeal_place", "appeal_since", "appeal_wish", "appeal_contact", "appeal_confirm"]
APPEAL_SLOTS = FORM_SLOTS + ["appeal_type", "appeal_name"]
ANONYMOUS = "匿名"
CONFIRMED, CANCELLED, PERSON = "confirmed", "cancelled", "person"  # values of appeal_confirm
ENDED = (CANCELLED, PERSON)

_SEP = "，,。.！!？?；;、：:~～…\\s"

# --- what the citizen says ------------------------------------------------------------------------------------------

# "我要投诉" "我想反映一下" "举报！" "提个建议：" before the account, "…，我要投诉" after it
_LEAD = re.compile(rf"^(?:(?:喂+|你好|您好|在吗|请问|麻烦(?:你|您)|打扰(?:一下)?)[{_SEP}]*)*"
                   r"(?:(?:我|我们)(?:这边|这儿)?)?(?:要|想|想要|来|得|必须|一定要|坚决)?(?:实名|匿名)?"
                   rf"(?:(?:投诉|举报|反映|反应|求助)(?:一下|一哈|下|个事情?|个问题|件事)?"
                   rf"|(?:有|提)?(?:个|一个|一点|点)?(?:小)?(?:建议|意见)(?=[{_SEP}]))[{_SEP}]*")
_TAIL = re.compile(rf"[{_SEP}]*(?:所以|因此)?(?:我|我们)?(?:要|想|想要|必须|一定要|坚决)?(?:实名)?"
                   rf"(?:投诉|举报|反映|求助)(?:一下|一哈|下)?(?:他们|你们|他|她|这个事情?)?[{_SEP}]*$")

_NOT_NAME = "我你他她它们的了在是住到从去那这个有就都也还把被给让说要想跟与及对啊吧呢嘛哦呀一条家段根座"
_NAME = rf"(?:(?![{_NOT_NAME}])[\u4e00-\u9fa5A-Za-z0-9])"
_SUFFIX = (r"街道|镇|乡|社区|村|小区|花园|家园|苑|大道|路|街|巷|广场|菜市场|市场|公园|政务服务中心|政务中心|便民服务中心|服务中心|"
           r"大厅|窗口")
_NUMBERED = r"(?:[\d一二三四五六七八九十]+(?:组|社|号|栋|幢|单元|楼))*"
_NEAR = r"(?:门口|附近|旁边|对面|路口|一带|外面|后面|前面|背后)"
_PLACE = re.compile(rf"{_NAME}{{1,8}}?(?:{_SUFFIX}){_NUMBERED}(?:{_NAME}{{0,8}}?(?:{_SUFFIX}){_NUMBERED})*{_NEAR}?")
_PLACE_LEAD = re.compile(r"^(?:投诉|举报|反映|求助|建议|位于|靠近|住|就|到)+")  # "我要投诉社保窗口": the place is 社保窗口
# words that end like a place and are none: "晚上走路看不见", "修路", "逛街", "回乡"
_NOT_A_PLACE = re.compile(r"(?:走|出|思|线|电|网|上|一|带|让|修|铺|挖|堵|封|占|马|道|公|过|赶)路$|(?:上|逛|沿|满|扫|占)街$|"
                          r"(?:下|回|返|老|家|城|同)乡$|(?:农|全|本|邻|进|下)村$|^(?:小|新)?(?:城|乡)镇$")  # 漹城镇 is a town
GENERIC_PLACES = {"农村", "城乡", "老乡", "家乡", "下乡", "城镇", "乡镇", "道路", "马路", "走路", "公路", "出路", "思路", "线路",
                  "电路", "网路", "上路", "上街", "逛街", "大街", "街道", "小巷", "街巷", "全村", "本村", "邻村", "隔壁村", "全镇",
                  "本镇", "小区", "新村", "老街", "市场", "服务中心", "办事大厅", "大厅", "窗口", "回乡", "返乡", "城市"}

_TIME = re.compile(
    r"(?:从|自从|打从|是从)?(?:已经|都|有|快|差不多|大概|将近|大约)?((?:"
    r"(?:大?前天|昨天|昨晚|昨夜|前晚|今天|今早|今晚|刚才|刚刚|今年|去年|前年|年初|年底|年前|年后|"
    r"春节(?:前|后)?|过年(?:前|后)?|国庆(?:前|后)?|暑假|寒假|开学(?:以来|后)?)"
    r"|(?:上上?|这|本)个?(?:周|星期|礼拜|月)[一二三四五六日天末]?"
    r"|(?:周|星期|礼拜)[一二三四五六日天末]"
    r"|(?:[一二三四五六七八九十]{1,3}|\d{1,2})月(?:份|初|中旬|中|底|末|上旬|下旬|\d{1,2}[号日]|[一二三四五六七八九十]{1,3}[号日])?"
    r"|(?:好|十)?(?:几|[一二两三四五六七八九十半]|\d+)+个?多?(?:小时|天|周|星期|礼拜|月|年)多?"
    r"|\d{1,2}[号日](?![楼院栋])"
    r"|这(?:几|两|段)(?:天|个月|时间)|最近几天|近段时间"
    r")(?:了|以来|开始|起|左右|多了)*)")
_DURATION_OF = re.compile(r"(?:排|等|花|用|跑|干|做|上)了(?:大|整整|快|将近|差不多)?$")  # "排了三个小时队": how long it took, not since when

_WISH = re.compile(r"希望|(?<!符合)(?<!合)要求|想让|想请|(?<![申邀])请(?!问|假|客)|麻烦(?:你们|您|有关|相关|政府|部门)|"
                   r"能不能|能否|可不可以|盼|尽快|赶紧|赶快|早点|早日|恳请|建议")
_SENTENCES = re.compile(r"[^。！!？?；;\n]+[。！!？?；;\n]*")
_CLAUSE_SPLIT = re.compile(r"(?<=[，,])")
_PHONE_PART = re.compile(r"(?:我的|联系)?(?:电话|手机|手机号|号码|联系方式)?(?:号码)?(?:是|为)?[:：]?\s*"
                         r"(?:1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}|0\d{2,3}-?\d{7,8})")
_CONTACT_CLAUSE = re.compile(r"电话|手机|号码|联系方式|我姓|免贵|我叫|\d{7,}")
_NAME_PART = re.compile(r"[，,\s]*(?:我姓|免贵姓|我叫)[\u4e00-\u9fa5]{1,3}?(?:先生|女士|师傅)?(?=[，,。！!\s]|$)")
_CONTACT_NAME = re.compile(r"(?:我姓|免贵姓|姓)([\u4e00-\u9fa5])[，,\s]*(先生|女士|师傅|大爷|阿姨)?")
NO_CONTACT = re.compile(r"匿名|不留|不想留|不方便|不用留|不需要留|没有电话|没电话|没得电话|不告诉|保密|不用联系|不要联系|不需要回复|不用回复")
DIGITS = re.compile(r"\d{4,}")
_NO_NEED = re.compile(r"^(?:不用|不要|不需要|没有|没得|不留)(?:了|吧|嘛)*[。！!，,]*(?:谢谢)?[。！!]*$")

_POLITE = r"(?:啊|吧|呀|嘛|哈|了|呢|哦|噻|哇|的嘛)*"
_GOODBYE = re.compile(r"再见|拜拜|拜|(?<![\d\s])88(?![\d\s]*\d)|谢谢(?:你们|您|你)?[了哈啊呀]?|谢了|多谢|感谢|辛苦(?:你|您|你们)?了?|麻烦(?:你|您|你们)了")
# a goodbye said after the answer ("希望你们认真处理，再见"): the citizen leaves once it is said
_FAREWELL_TAIL = re.compile(r"[，,。.！!\s]*(?:(?:好的?|那就这样|就这样)[，,\s]*)?(?:再见|拜拜|(?<=[，,。.！!\s])拜)[了啦哈呀！!。.\s]*$")
_CANCEL_WORDS = re.compile(r"^(?:(?:算了|不要了|不用了|不弄了|不办了|不说了|不登记了|不提交了?|不要提交|取消|撤回|撤销|没事了|"
                           r"不(?:投诉|举报|反映|求助|建议|提)了?|不想(?:投诉|举报|反映|说)了)(?:吧|了|嘛|哈|啊)*)+$")
_YES = re.compile(r"^那?(?:确认提交|确认无误|确认|确定|提交|可以提交|没问题|没有问题|对的|对头|是的|对|是|好的|好|可以|行|就这样|这样|没错|"
                  r"都对|嗯嗯|嗯|要得|ok|OK|Ok|麻烦提交|帮我提交|就按这个|没得问题|(?:晓得|知道|明白)了?|"
                  # at the read-back "没得其他事了" / "就这些": nothing to change, the citizen is done
                  r"没(?:得|有)?(?:其他|别的|啥子|什么)(?:事|的|问题)?了?|就这些|就这些了)+" + _POLITE + "$")
_CHANGE = re.compile(r"不对|不是|有错|错了|修改|改一下|改改|要改|更改|改$|重新")
_FIELDS = [("appeal_contact", re.compile(r"电话|手机|号码|联系方式")),
           ("appeal_place", re.compile(r"地点|地址|位置|地方")),
           ("appeal_since", re.compile(r"时间|日期|什么时候")),
           ("appeal_wish", re.compile(r"诉求|希望|要求|想让")),
           ("appeal_what", re.compile(r"事情|内容|情况|经过|描述"))]
_VALUE_LEAD = re.compile(rf"^(?:号码|号)?(?:写错了|说错了|搞错了|弄错了|不对|错了|有误|有错)?[{_SEP}]*(?:应该|实际上|其实|正确的)?"
                         rf"(?:是|为|改成|改为|换成|改一下|在)?[{_SEP}]*")
_TYPE_WORDS = re.compile(r"(?<!不是)(?<!不算)(投诉|举报|建议|求助)")


def appeal_type_of(text: str) -> str:
    """The citizen's own word for the appeal: 举报, 建议, 求助, else 投诉."""
    if "举报" in text:
        return "举报"
    if re.search(r"建议|提个?意见|提点意见|有个意见", text):
        return "建议"
    if re.search(r"求助|帮帮忙|帮下忙|帮哈忙|救命|救救|救一下", text):
        return "求助"
    return "投诉"


def _clean(text: str) -> str:
    return re.sub(rf"^[{_SEP}]+|[{_SEP}]+$", "", text or "")


def _substance(text: str) -> int:
    return len(re.findall(r"[\u4e00-\u9fa5A-Za-z0-9]", text or ""))


def place_in(text: str) -> str | None:
    """A place named in the text: 乡镇/街道, 村/社区, 小区, 路/街, 政务服务中心/大厅/窗口 (with 3组, 23号 …)."""
    for match in _PLACE.finditer(text or ""):
        place = _PLACE_LEAD.sub("", match.group(0))
        bare = re.sub(_NUMBERED + "$", "", re.sub(_NEAR + "$", "", place))
        if bare not in GENERIC_PLACES and not _NOT_A_PLACE.search(bare) and _substance(place) >= 2:
            return place
    return None


def since_in(text: str) -> str | None:
    """Since when, as said: 昨天, 上周五, 半个月了, 好几天, 三月份 …"""
    for match in _TIME.finditer(text or ""):
        if _DURATION_OF.search(text[:match.start()]):
            continue
        return match.group(1)
    return None


def _wish_clauses(text: str) -> tuple[str, str]:
    """(the wish: from the first clause with a wish word to the end of its sentence, the text without it)."""
    for sentence in _SENTENCES.findall(text or ""):
        clauses = _CLAUSE_SPLIT.split(sentence)
        for n, clause in enumerate(clauses):
            if _WISH.search(clause):
                end = next((m for m in range(n + 1, len(clauses)) if _CONTACT_CLAUSE.search(clauses[m])), len(clauses))
                wish = _clean(_PHONE_PART.sub("", "".join(clauses[n:end])))  # up to the phone or name said after it
                rest = text.replace("".join(clauses[n:end]), "", 1)
                return wish, rest
    return "", text


def wish_in(text: str) -> str | None:
    wish, _ = _wish_clauses(text)
    return wish if _substance(wish) >= 2 else None


def contact_in(text: str) -> str | None:
    """A phone number, or 匿名 when the citizen will not leave one."""
    phone = phone_in(text or "")
    if phone:
        return phone
    return ANONYMOUS if NO_CONTACT.search(text or "") else None


def contact_name_in(text: str) -> str | None:
    match = _CONTACT_NAME.search(text or "")
    if match:
        return match.group(1) + (match.group(2) or "")
    return name_in(text or "")


def account_of(text: str, appeal_type: str) -> str:
    """The account itself: without 我要投诉 before or after it, the phone and (but for a suggestion) the wish."""
    what = _TAIL.sub("", _LEAD.sub("", (text or "").strip()))
    what = _NAME_PART.sub("", _PHONE_PART.sub("", what))
    if appeal_type != "建议":
        wish, rest = _wish_clauses(what)
        if wish and _substance(rest) >= 6:
            what = rest
    return _clean(what)


def details_in(text: str, appeal_type: str = "投诉") -> dict[str, str]:
    """Every detail a message carries besides the account: place, since when, wish, contact and name."""
    found: dict[str, str] = {}
    place = place_in(text)
    if place:
        found["appeal_place"] = place
    since = since_in(text.replace(place, " ") if place else text)
    if since:
        found["appeal_since"] = since
    wish = wish_in(text)
    if wish and not (appeal_type == "建议" and not re.search(r"希望|要求|想让", wish)):
        found["appeal_wish"] = wish
    contact = contact_in(text)
    if contact:
        found["appeal_contact"] = contact
    name = contact_name_in(text) if contact and contact != ANONYMOUS else None  # "我姓王，电话138…"
    if name:
        found["appeal_name"] = name
    return found


def _tokens(text: str) -> list[str]:
    parts = [_GOODBYE.sub("", part) for part in re.split(rf"[{_SEP}]+", text or "")]
    return [part for part in parts if part]


def cancels(text: str) -> bool:
    """算了 / 不要了 / 不投诉了 / 取消 (a goodbye alone, before the read-back, leaves too)."""
    tokens = _tokens(text)
    if not tokens:
        return says_goodbye(text)
    return all(_CANCEL_WORDS.match(token) for token in tokens)


def agrees(text: str) -> bool:
    tokens = _tokens(text)
    return bool(tokens) and all(_YES.match(token) for token in tokens)


# "那等你们回话": the citizen waits for the answer, nothing more to tell
_WAITING = re.compile(r"^(那|好|就)?(我|我们)?(就)?等(你们|您|你)?(的)?(回话|消息|答复|回复|通知|电话)(了|哈|嘛)?$|"
                      r"^(那|好|就)?(我|我们)?(就)?等(着|起)(了|哈|嘛)?$")  # "那我等着，再见"


# "那我重新约个时间办不动产转移登记，下周二上午十点": a booking asked for in words, not a detail of the appeal
_BOOK_NOW = re.compile(r"(重新|再|想|要)(预约|约)|约(一?个|一?下)(号|时间)")  # with a day or mobile (asks_to_book)


def books_instead(text: str) -> bool:
    """In the middle of the intake, a new booking asked for in so many words ("那我重新约个时间办…，下周二上午十点"):
    what was told is filed, then the booking starts. A booking told as part of the complaint ("我约了号还是白跑") is not."""
    return books_in_words(text) or (bool(_BOOK_NOW.search(text)) and asks_to_book(text))


def closes(text: str) -> bool:
    """"好 谢谢", "行，再见", "谢谢你": thanks or a goodbye, with at most a yes: the citizen is done."""
    thanks = says_goodbye(text) or says_thanks(text)
    return thanks and all(_YES.match(token) or _WAITING.match(token) for token in _tokens(text))


# the words of an appeal itself: with them a request for a person is part of the complaint ("我要投诉窗口工作人员")
_APPEAL_WORDS = re.compile(r"投诉|举报|反映|曝光|建议|态度|刁难")

def ended(reason: str) -> dict[str, Any]:
    """The form ends now: appeal_confirm says why, the rest is blanked (nothing left to ask)."""
    return {**{slot: None for slot in FORM_SLOTS[:-1]}, "appeal_confirm": reason}


def correction(text: str, appeal_type: str) -> dict[str, Any]:
    """What a message at the read-back changes ("地点不对，是黄土镇新华村", "电话改成139…", "时间是上个月", "我希望…");
    a detail named with no new value is blanked, so the form asks it again."""
    changes: dict[str, Any] = {}
    types = _TYPE_WORDS.findall(text)
    if types and re.search(r"类型|不是|改成|应该是|算是", text):  # "不是投诉，是建议"
        changes["appeal_type"] = types[-1]
        text = re.sub(r"(?:类型|不是|改成|应该是|算是|是)?(?:投诉|举报|建议|求助)", "", text)
    for slot, words in _FIELDS:
        named = words.search(text)
        if named is None:
            continue
        value = _clean(_VALUE_LEAD.sub("", text[named.end():]))
        if slot == "appeal_contact":
            new = contact_in(text)
        elif slot == "appeal_place":
            new = place_in(value) or (value if _substance(value) >= 2 else None)
        elif slot == "appeal_since":
            new = since_in(value) or (value if _substance(value) >= 2 else None)
        elif slot == "appeal_wish":
            said = value if named.group(0) == "诉求" else wish_in(text) or value  # "诉求改成…" / "我希望…"
            new = said if _substance(said) >= 2 else None
        else:
            new = value if _substance(value) >= 4 else None
        if new is None and not _CHANGE.search(text):  # "对的，就是这个情况": a detail named, nothing changed
            continue
        changes[slot] = new  # "地点不对" with no new place: blanked, the form asks for it again
        break
    found = details_in(text, appeal_type)
    found.pop("appeal_wish", None)  # "可以，谢谢你们尽快处理" is a yes: a new wish is said with 希望/要求/诉求
    for slot, value in found.items():
        changes.setdefault(slot, value)
    return changes


# --- the actions -----------------------------------------------------------------------------------------------------


def item_in_context(tracker: Tracker) -> str | None:
    """The item the conversation is about: the one answered last, else the one the appeal's account names ("社保卡补办
    那个页面一直打不开", then "那我现在去窗口补办 要带啥子")."""
    if tracker.get_slot("item"):
        return str(tracker.get_slot("item"))
    told = get_index().resolve(tracker.get_slot("appeal_what") or "") if tracker.get_slot("appeal_what") else None
    return told.entry.id if told is not None and told.kind == "answer" and told.entry is not None else None


def _type(tracker: Tracker) -> str:
    return tracker.get_slot("appeal_type") or "投诉"


def _channel(tracker: Tracker) -> str:
    return (tracker.sender_id or "").split("-", 1)[0]


def previous_text(tracker: Tracker) -> str:
    """The citizen's message before the latest one, unless it was a button too: what a "/complain" button offered to
    file ("我们村停水三天了，找哪个部门" → 登记诉求工单, actions/guides.py)."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    before = (users[-2].get("text") or "") if len(users) >= 2 else ""
    return "" if before.startswith("/") else before


class ActionStartAppeal(Action):
    """An appeal told: take whatever the first message already says before the form asks the rest."""

    def name(self) -> str:
        return "action_start_appeal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        taken_up = takes_up_the_appeal(tracker, text)  # "要得", or more about the problem, after the offer to file it
        if wants_a_person(text) and not _APPEAL_WORDS.search(text) and not taken_up:  # "有没有工作人员 我直接问"
            return [FollowupAction("action_request_human")]
        in_dialogue = bool(tracker.get_slot("item") or tracker.get_slot("candidates"))
        if a_detail_not_a_complaint(latest_intent(tracker), text, in_dialogue) and not taken_up:
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]  # "长期的那种 每个月都有的"
        if is_service_question(latest_intent(tracker), text) and not taken_up:  # a situation told, neither complaint nor plea: answered,
            if books_in_words(text) or asks_to_book(text):  # or booked ("…想在成都看病能直接报销，要办个备案，帮我约明天上午十一点";
                # "想办个居住证，今天上午十点半能约不？")
                return [FollowupAction("action_start_booking")]
            return answer_question(dispatcher, tracker) + [FollowupAction("action_listen")]
        events = [SlotSet(slot, None) for slot in APPEAL_SLOTS] + [SlotSet("requested_slot", None)]
        # the button of the offer, or a yes to it: the problem told before it; more about the problem: both
        told = previous_text(tracker) if text.startswith("/") or taken_up and agrees(text) else \
            f"{previous_text(tracker)}，{text}" if taken_up else text
        appeal_type = appeal_type_of(told)
        found = details_in(told, appeal_type)
        what = account_of(told, appeal_type)
        if _substance(what) >= 6:
            found["appeal_what"] = what
        events.append(SlotSet("appeal_type", appeal_type))
        events += [SlotSet(slot, value) for slot, value in found.items()]
        dispatcher.utter_message(text=f"好的，我帮您登记{appeal_type}工单，承办部门会按期限办理答复。")
        return events + [FollowupAction("appeal_form")]


class ValidateAppealForm(FormValidationAction):
    """Each answer of the intake: the detail asked for and any other the message carries; cancelling words or a
    request for a person end the form; at the read-back a yes files, a correction changes and reads back again."""

    def name(self) -> str:
        return "validate_appeal_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[str]:
        if tracker.get_slot("appeal_confirm") in ENDED:
            return ["appeal_confirm"]
        if _type(tracker) == "建议":  # the suggestion is the wish
            return [slot for slot in domain_slots if slot != "appeal_wish"]
        return domain_slots

    def _answer(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
        text = str(value or "").strip()
        if text.startswith("/"):  # a button pressed during the form answers nothing; 不用了 (/deny) leaves it
            return ended(CANCELLED) if text.startswith("/deny") else {slot: None}
        if asks_for_a_person(text):
            return ended(PERSON)
        if cancels(text):
            return ended(CANCELLED)
        if (closes(text) or says_nothing_more(text) or books_instead(text)) and tracker.get_slot("appeal_what") and slot != "appeal_what":
            # "就这些，再见", "好 谢谢": the citizen is done and leaves; what they told is filed as it is (no phone: anonymous);
            # "那我重新约个时间…": the same, then the booking (ActionFinishAppeal)
            missing = {name: "" for name in ("appeal_place", "appeal_since", "appeal_wish") if not tracker.get_slot(name)}
            return {**missing, "appeal_contact": tracker.get_slot("appeal_contact") or ANONYMOUS, "appeal_confirm": CONFIRMED}
        if slot != "appeal_what" and is_service_question("complain", text) and (
                item := answer_in_passing(dispatcher, text, item_in_context(tracker))):
            ask = next((cls for cls in AskAppeal.__subclasses__() if cls.slot == slot), None)
            if ask is not None:  # "顺便问下 …咋个参保": answered, then the intake's question again
                dispatcher.utter_message(text=ask().question(tracker))
            return {slot: None, "item": item}
        found = details_in(text, _type(tracker))
        found.pop(slot, None)
        return found

    def validate_appeal_what(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        found = self._answer("appeal_what", value, dispatcher, tracker)
        if "appeal_confirm" in found or "appeal_what" in found:
            return found
        what = account_of(str(value or ""), _type(tracker))
        if _substance(what) < 4:
            dispatcher.utter_message(text="登记工单需要具体一点：请说说发生了什么事，比如什么情况、影响到什么。")
            return {**found, "appeal_what": None}
        return {**found, "appeal_what": what}

    def _free(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, pick: Callable[[str], str | None], lead: str) -> dict[str, Any]:
        said = str(value or "")
        told = _FAREWELL_TAIL.sub("", said)
        if told != said and _tokens(told) and not closes(said) and tracker.get_slot("appeal_what"):
            # "好，希望你们认真处理，再见": the answer, and the citizen leaves: filed with what was told (as "就这些，再见" is)
            found = self._given(slot, told, dispatcher, tracker, pick, lead)
            if found.get(slot) and "appeal_confirm" not in found:
                missing = {name: "" for name in ("appeal_place", "appeal_since", "appeal_wish") if not tracker.get_slot(name)}
                contact = found.get("appeal_contact") or tracker.get_slot("appeal_contact") or ANONYMOUS
                return {**missing, **found, "appeal_contact": contact, "appeal_confirm": CONFIRMED}
            return found
        return self._given(slot, value, dispatcher, tracker, pick, lead)

    def _given(self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, pick: Callable[[str], str | None], lead: str) -> dict[str, Any]:
        found = self._answer(slot, value, dispatcher, tracker)
        if "appeal_confirm" in found or slot in found:
            return found
        text = str(value or "")
        given = pick(text)
        if not given and found.get("appeal_contact"):  # "我电话150… 莫跟他说是我投诉的": the phone, no answer to this question
            return {**found, slot: None}
        if not given:  # the answer itself, without the other details it carried
            rest = _PHONE_PART.sub("", text)
            for other in ("appeal_place", "appeal_since", "appeal_wish"):
                if found.get(other) and other != slot:
                    rest = rest.replace(found[other], "")
            given = _clean(re.sub(lead, "", _clean(rest)))
        if _substance(given) < 1 or found and _substance(re.sub(r"^我们?的?", "", given)) < 2:
            # "我电话138…" where the time is asked: the phone, and what is left ("我") answers nothing
            return {**found, slot: None}
        return {**found, slot: given}

    def validate_appeal_place(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return self._free("appeal_place", value, dispatcher, tracker, place_in, r"^(?:就在|是在|在|地点是|地址是|位置在|地方是|就是)")

    def validate_appeal_since(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return self._free("appeal_since", value, dispatcher, tracker, since_in, r"^(?:是从|从|大概|时间是)")

    def validate_appeal_wish(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        return self._free("appeal_wish", value, dispatcher, tracker, wish_in, r"^(?:我的诉求是|诉求是|就是)")

    def validate_appeal_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = str(value or "").strip()
        if text == ANONYMOUS or _NO_NEED.match(text):  # "不用了" to this question: no phone, not the appeal dropped
            return {"appeal_contact": ANONYMOUS}
        found = self._answer("appeal_contact", value, dispatcher, tracker)
        if "appeal_confirm" in found or "appeal_contact" in found:
            return found
        contact = contact_in(text)
        name = contact_name_in(text)
        if name:
            found["appeal_name"] = name
        if contact is None:
            anonymous = "举报可以匿名，" if _type(tracker) == "举报" else ""
            if DIGITS.search(text):
                dispatcher.utter_message(text=f"这个号码好像不完整。登记工单请说一个11位手机号；{anonymous}不想留可以说“匿名”。")
            else:
                dispatcher.utter_message(text=f"登记工单请留一个11位手机号，方便部门答复您；{anonymous}不想留可以说“匿名”。")
            return {**found, "appeal_contact": None}
        return {**found, "appeal_contact": contact}

    def validate_appeal_confirm(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> dict[str, Any]:
        text = str(value or "").strip()
        if text in (CONFIRMED, *ENDED):
            return {"appeal_confirm": text}
        if text.startswith("/"):  # a button of another message: 不用了 (/deny) leaves, anything else reads back again
            return ended(CANCELLED) if text.startswith("/deny") else {"appeal_confirm": None}
        if asks_for_a_person(text):
            return ended(PERSON)
        if cancels(text):  # "算了", "不投诉了", or only "再见": nothing is filed without a yes
            return ended(CANCELLED)
        if agrees(text) or closes(text) or says_nothing_more(text) or books_instead(text):
            # "好 没得了", "谢谢了": nothing to change; "那帮我约个明天上午…": the booking next (ActionFinishAppeal)
            return {"appeal_confirm": CONFIRMED}
        if is_service_question("complain", text) and (item := answer_in_passing(dispatcher, text, item_in_context(tracker))):
            dispatcher.utter_message(text="工单还没有提交。内容没问题请说“确认提交”；要改哪一项，直接告诉我就行。", buttons=CONFIRM_BUTTONS)
            return {"appeal_confirm": None, "item": item}  # "顺便问下 老年人优待证咋个办" at the read-back
        changes = correction(text, _type(tracker))
        if changes:
            return {**changes, "appeal_confirm": None}
        if _CHANGE.search(text):
            dispatcher.utter_message(text="好的，请问哪一项要改？可以直接说，例如“地点是黄土镇新华村”“电话改成139…”“时间是上个月”。")
        else:
            dispatcher.utter_message(text="工单还没有提交。内容没问题请说“确认提交”；要改哪一项，直接告诉我就行。",
                                     buttons=CONFIRM_BUTTONS)
        return {"appeal_confirm": None}


CONFIRM_BUTTONS = [{"title": "确认提交", "payload": "确认提交"}, {"title": "修改", "payload": "修改"}]


class AskAppeal(Action):
    """The form's question for one detail, unless this turn's validation already explained what it needs."""

    slot = ""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def question(self, tracker: Tracker) -> str:
        raise NotImplementedError

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if not explained_this_turn(tracker, self.slot):
            dispatcher.utter_message(text=self.question(tracker))
        return []


class ActionAskAppealWhat(AskAppeal):
    slot = "appeal_what"

    def question(self, tracker: Tracker) -> str:
        if _type(tracker) == "建议":
            return "登记工单需要先了解您的建议：请具体说说是什么建议。"
        return "登记工单需要先了解情况：请说说发生了什么事。"


class ActionAskAppealPlace(AskAppeal):
    slot = "appeal_place"

    def question(self, tracker: Tracker) -> str:
        return "登记工单还需要地点：在哪个乡镇（街道）、村（社区），或者具体什么地方？"


class ActionAskAppealSince(AskAppeal):
    slot = "appeal_since"

    def question(self, tracker: Tracker) -> str:
        if _type(tracker) == "建议":
            return "登记工单还需要时间：这个情况存在多久了？说个大概就行。"
        return "登记工单还需要时间：这个情况是从什么时候开始的？"


class ActionAskAppealWish(AskAppeal):
    slot = "appeal_wish"

    def question(self, tracker: Tracker) -> str:
        return "登记工单还需要您的诉求：您希望怎么解决？"


class ActionAskAppealContact(AskAppeal):
    slot = "appeal_contact"

    def question(self, tracker: Tracker) -> str:
        later = "之后凭工单编号查询结果" if _channel(tracker) == "voice" else "办理结果会在这里告诉您"
        if _type(tracker) == "举报":
            return f"举报可以匿名。登记工单最后请留一个手机号，方便部门核实答复；不想留请说“匿名”，{later}。"
        return f"登记工单最后请留一个手机号，方便部门联系答复您；不想留请说“匿名”，{later}。"


def read_back(tracker: Tracker) -> str:
    slot = tracker.get_slot
    contact = slot("appeal_contact") or ""
    lines = [f"事情：{mask(slot('appeal_what') or '')}", f"地点：{slot('appeal_place') or '未说明'}",
             f"时间：{slot('appeal_since') or '未说明'}"]
    if slot("appeal_wish"):
        lines.append(f"诉求：{slot('appeal_wish')}")
    lines.append(f"联系电话：{mask(contact)}" if contact and contact != ANONYMOUS else "联系电话：不留（匿名）")
    lines.append(f"类型：{_type(tracker)}")
    return "\n".join(lines)


def _asked_before(tracker: Tracker) -> str | None:
    """The detail asked for when the citizen's latest message came."""
    for n in range(len(tracker.events) - 1, -1, -1):
        if tracker.events[n].get("event") == "user":
            return next((e.get("value") for e in reversed(tracker.events[:n])
                         if e.get("event") == "slot" and e.get("name") == "requested_slot"), None)
    return None


class ActionAskAppealConfirm(Action):
    """Read the whole order back before it is filed, with 确认提交 / 修改."""

    def name(self) -> str:
        return "action_ask_appeal_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if explained_this_turn(tracker, "appeal_confirm"):
            return []
        lead = "好的，已为您改过来了。请再核对一下" if _asked_before(tracker) == "appeal_confirm" else "请核对一下"
        dispatcher.utter_message(text=f"{lead}您的{_type(tracker)}工单：\n{read_back(tracker)}\n没问题请说“确认提交”，要改哪一项直接告诉我。",
                                 buttons=CONFIRM_BUTTONS)
        return []


class ActionFinishAppeal(Action):
    """The form is done: file the order (its number is in the database before the citizen hears it), or say that
    nothing was filed; a person when asked for. The appeal's slots are reset either way."""

    def name(self) -> str:
        return "action_finish_appeal"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        slot = tracker.get_slot
        reset = [SlotSet(name, None) for name in APPEAL_SLOTS]
        outcome, appeal_type = slot("appeal_confirm"), _type(tracker)
        text = tracker.latest_message.get("text") or ""
        if outcome == PERSON:
            return reset + await escalate(dispatcher, tracker, "complaint")
        if outcome != CONFIRMED or not slot("appeal_what"):
            dispatcher.utter_message(text=f"好的，这次的{appeal_type}没有登记，也不会转给部门。需要时随时可以再找我。")
            if closes(text):
                return reset + goodbye_then_rating(dispatcher)
            return reset
        contact = slot("appeal_contact") or ""
        intake = Intake(what=slot("appeal_what"), place=slot("appeal_place") or "", since=slot("appeal_since") or "",
                        wish=slot("appeal_wish") or "", contact_name=slot("appeal_name") or "",
                        contact_phone="" if contact == ANONYMOUS else contact, appeal_type=appeal_type)
        try:
            office = current().appeals
            order = await run_in_threadpool(office.file, intake, _channel(tracker), tracker.sender_id)
            reply = texts.filed(order, office.routing.department_name(order.department))
        except Exception:  # noqa: BLE001  (whatever failed, the citizen is told and the hotline still takes it)
            logger.exception("appeal could not be filed in conversation %s", tracker.sender_id)
            dispatcher.utter_message(text=f"抱歉，工单暂时没能登记成功，给您添麻烦了。请拨打{county()['热线']}热线反映，"
                                          "工作人员会为您登记。")
            return reset
        dispatcher.utter_message(text=reply)
        if books_instead(text):  # "那我重新约个时间办…": filed, and now the booking
            return reset + [FollowupAction("action_start_booking")]
        if closes(text) or says_nothing_more(text) or says_goodbye(text):  # "没得了 谢谢", "…，再见": filed, and done
            return reset + goodbye_then_rating(dispatcher)
        return reset
