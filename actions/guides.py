"""Guide answers: which item, which aspect, answered only from the knowledge base."""
from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import escalate, goodbye_then_rating, says_again, wants_a_person
from actions.service_question import NOT_BOOKING, says_nothing_more, says_thanks
from bot import clock
from bot.appeals.texts import OFFER_LEAD as APPEAL_OFFER_LEAD
from bot.appeals.texts import offer as appeal_offer
from bot.booking.dates import parse_when
from bot.booking.service import (
    NOT_FOUND,
    asks_to_book,
    cancel_said,
    changes_a_booking,
    gives_a_code_or_mobile,
    gives_booking_details,
    looks_up_a_booking,
    moves_or_cancels,
    names_a_booking,
)
from bot.insight.outcomes import NOTE
from bot.services import current_or_none
from knowledge.answers import (
    ASPECTS,
    EVENT_LEAD,
    MAX_OPTIONS,
    OFF_HOURS,
    WHICH_ITEM_LEAD,
    Answer,
    also_asked,
    answer,
    asks_how,
    asks_something,
    aspect_in,
    aspects_in,
    choose,
    event_answer,
    gone,
    how_asked,
    only_an_aspect,
    unknown,
    which_item,
    without_aspect_cues,
)
from knowledge.events import CUE, LifeEvent, asked_event, chosen_step, event_begun_by
from knowledge.normalize import normalize, pairs_of, simplified
from knowledge.pinned import reply as pinned_reply
from knowledge.schema import Entry
from knowledge.search import Hit, Resolution, shared_length
from knowledge.service import get_index, retired_name
from knowledge.topics import Topic, topic_of, topics

ORDINALS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5}
ORDINAL_RE = re.compile(r"^(?:我?选|就是|是|要)?第?([一二两三四五1-5])(?:个|项|条|号)?(?:那个|这个)?(?:嘛|吧|呀|啊|哈|的|噻)?$")
FOLLOW_UP_LENGTH = 12  # "换一张要多久" right after a single option offered: about that option
VAGUE_LENGTH = 4  # a normalised question this short that fits several items is vague ("办证")
NAMED = 0.6  # a name or alias signal this strong: the message names an item (with one in context, it changes the subject)
FULL_NAME = 0.9  # ... and this strong: it names the item in full
# "那港澳通行证呢", "身份证的话": a new item, the same question as before
# a switch starts with 那 or ends a phrase with 呢 (Sichuanese 喃) or 的话: "那护照呢", "临时救助喃", "开公司的话呢 有限公司"
_SWITCH_LEAD = re.compile(r"^(?:那|那么|还有)|(?:呢|喃|的话)(?:[？?。！!…\s]|$)|"
                          r"(?:也是|还是|也要)(?:这些|这样|这个|一样)|一样(?:吗|不|哇|噻|嘛)?[？?]?$")  # "…户口不在夹江，也是这些吗"
_CAN_I = re.compile(r"(?:能|可以|可不可以|能不能)(?:办|领|申请)")  # whether one can have it: the item's conditions
_STEP = re.compile(r"第([一二两三四五六1-6])(?:步|个|项|件)")  # "第二步要带什么": a step of the life event just listed
_FIRST = re.compile(r"先办(哪|啥|什么)|先(去|跑)(哪|啥)|从(哪|啥)(里|儿|个)?开始|头一(步|个|件)")  # "先办哪个": the first step
# "都要办些啥", "要跑哪些部门": a question about everything a life event needs, not one item
# "有没有啥子救助", "能享受哪些补贴": which of a kind of help exist (normalised text: 啥子 → 什么)
_ASKS_WHICH = re.compile(r"(有没有|有|能享受|可以享受|能领|可以领|能申请|可以申请)(什么|哪些|哪几种|几种)?(样的|能办的|可以办的|能领的)?"
                         r"(救助|补贴|补助|政策|优惠|福利|待遇|帮扶|帮助|扶持)")
# "想问下我老汉儿养老保险的事情", "社保卡的事想问下": a topic opened, the question still to come
_ABOUT_THINGS = re.compile(r"的事情?|方面的?(事情?|问题)|相关的?(事情?|问题)|那些事")
VAGUE_WHICH = 20  # longer, the message tells a situation that picks the item ("一级肢体残疾，瘫在床上…有没有啥子补贴")
# ... but asked which kinds of help there are after a story that more than one kind fits ("老公生病了干不了活 娃儿还在读书
# 有啥子救助没得": 低保 and 临时救助), the kinds are offered (a 补贴 or 补助 asked after is one kind of money)
_ASKS_PROGRAMMES = re.compile(r"有(没有)?(什么|哪些|哪几种|几种)(样的)?(救助|帮扶|扶持|福利|政策|帮助)")
SEVERAL_FIT = 0.05  # a second kind scoring this much fits the story too (that one: 0.51 and 0.27; a fire: 临时救助 alone)
PICK_MARGIN = 2.0  # a detail picks one of the offered items when it scores this many times the next one
# a yes, no or thanks: no detail to pick an offered item with
# a reply that adds nothing to the message the options answered, in one or more words: "好的", "好的 晓得了 谢谢"
_BARE_REPLY = re.compile(r"^(?:(?:好的?|对的?|对头|是的?|嗯+|行|可以|要得|谢谢|多谢|没有?|不是|不用|不要|算了|ok|晓得|知道|明白|收到)"
                         r"(?:了|啊|嘛|哈|呢|的|你|您)*[，,。.！!\s]*)+$")


SURE_ASPECT = 0.8  # intent confidence above which an aspect question is remembered without its words


def aspect_of(intent: str | None) -> str:
    """ask_fee → fee; anything else asks for the overview."""
    aspect = (intent or "").removeprefix("ask_")
    return aspect if aspect in ASPECTS else "item"


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the latest message as classified (a button's /intent included)."""
    return (tracker.latest_message.get("intent") or {}).get("name")


def say(dispatcher: CollectingDispatcher, reply: Answer) -> None:
    dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None)


def chosen_item_id(tracker: Tracker) -> str | None:
    """The item the citizen picked: a button's item_id, or "第二个" / "2" among the offered candidates."""
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "item_id":
            value: str | None = entity.get("value")
            return value
    match = ORDINAL_RE.match(normalize(tracker.latest_message.get("text") or ""))
    candidates = tracker.get_slot("candidates") or []
    if match and 1 <= ORDINALS[match.group(1)] <= len(candidates):
        chosen: str = candidates[ORDINALS[match.group(1)] - 1]
        return chosen
    return None


def asked_aspect(intent_aspect: str, text: str, previous: str | None) -> str:
    """The aspect asked: a cue word in the message, else the intent's, or the previous aspect when the message only
    switches the item ("那港澳通行证呢"). A message that asks two in words ("在哪里打？要带身份证吗？") is answered in
    the order asked, whatever the classifier's one guess."""
    asked = aspects_in(text)
    if len(asked) >= 2:
        return asked[0]
    cue = aspect_in(text)
    raw = text.strip()
    if not cue and len(raw) <= 26:
        if _CAN_I.search(raw):  # "那我奶奶77岁，能办那个老年优待证不": whether she can have it, its conditions (read as online)
            return "item"
        if previous and _SWITCH_LEAD.search(raw) and not asks_how(raw):  # (not "…咋个领钱", which asks how)
            return previous  # the message only names another item: whatever the classifier guessed, the question stays
    # the words asked beat the classifier's one guess ("申请公租房要啥子条件" came out as ask_materials)
    return cue or intent_aspect


# "再问个，…", "还有个事，…": what follows is a new question, about the current item only if it says so
# a document, a fund, an insurance, a tax or a vehicle: a thing a question is about ("驾驶证", "公积金", "车子")
_THING = re.compile(r"^.+(证|卡|照|金|险|税)$|车")
_NEW_TOPIC_LEAD = re.compile(r"^(再问(个|一个|一下|下)|还有(个|一个|件)事|另外(问|还有|一个)|换个问题|我?还想问|顺便问|(先|再)?插一?句)(一?[下哈句个])?")


def opens_new_topic(current: Entry, text: str) -> bool:
    """"再问个，住房公积金咋个提取出来" right after a guide: a new question about a thing the current item's guide never
    names (公积金), so not a follow-up ("再问个，要多久" is); "驾驶证到期了在哪儿换": a document no guide knows."""
    said = simplified(text).strip()
    lead = _NEW_TOPIC_LEAD.search(said)
    index = get_index()
    words = index.tokens(normalize(said[lead.end():] if lead else said))
    if any(_THING.search(w) and w not in index.guides_text for w in words):
        return True
    if lead is None:
        return False
    own = normalize(" ".join([current.name, *current.aliases, *current.keywords, *current.questions, *current.situations]))
    # ("顺便问下，要带啥子": the aspect's own words are no new thing)
    words = index.tokens(without_aspect_cues(normalize(said[lead.end():])))
    return any(len(w) >= 2 and w not in own and not aspects_in(w) for w in words)


# words that open a question without asking it yet: "我想问哈养老保险", "咨询一下社保" (normalize() drops 我想问)
_OPENING = re.compile(r"^(一?下|一?哈)|我?想?(问|咨询|了解|打听)(一?下|哈|一哈)?|关于|请问|你好|您好|喂|那个|就是|嗯|呃|^我?[要想](?=开个?|打个?)")

# ("开证明的事", "创业扶持政策" too)
_TOPIC_FILLER = re.compile(r"(?:开个?|打个?)?(?:那|这)?(?:方面|一块|一类)?的?(?:扶持|优惠)?(?:事情?|问题|东西|政策)?")


def only_a_topic(text: str) -> bool:
    """"我想问哈养老保险", "社保卡": a topic's word that several items share, and nothing else asked (the likely items
    are offered, not the first of them); "低保", an item's own alias, is answered."""
    topic = topic_of(text)
    if topic is None:
        return False
    rest = _OPENING.sub("", normalize(text))
    said = [w for w in sorted(topic.words, key=len, reverse=True) if normalize(w) in rest]
    for word in said:
        rest = rest.replace(normalize(word), "")
    rest = _TOPIC_FILLER.sub("", rest)  # "老年人那方面的", "社保方面的": the topic said, nothing more
    if not said:
        return False
    names = [" ".join(normalize(n) for n in [e.name, *e.aliases]) for e in get_index().kb.guides]
    sharing = [n for n in names if said[0] in n]
    # "不动产登记": besides the topic's word, only a word that its items' names share (抵押登记, 转移登记)
    return len(sharing) >= 2 and (not rest or sum(rest in n for n in sharing) >= 2) and \
        not any(said[0] in n.split() or rest and said[0] + rest in n.split() for n in names)


def an_items_own_word(text: str) -> bool:
    """"我问下低保的事": the topic's word said is one item's own name or alias (低保 of 最低生活保障), not a word several
    items share ("社保卡的事"): that item is meant."""
    topic = topic_of(text)
    if topic is None:
        return False
    own, said = get_index().kb.guide_names, normalize(text)
    return any(normalize(w) in own and normalize(w) in said for w in topic.words)


# at the read-back of a booking: a correction of what was read ("电话打错了 是138…", "名字写错了 是张丽", "换成下周二")
_CORRECTION = re.compile(r"错|不对|改|换|1[3-9]\d[ -]?\d{4}|名字|姓名|周[一二三四五六日天]|星期|礼拜|[上中下]午|傍晚|晚上|明天|后天|"
                         r"[\d一二两三四五六七八九十]+[号日点]")


def corrects_the_read_back(tracker: Tracker, text: str) -> bool:
    """A message after the booking was read back (booking_request_id set) that corrects it rather than answering yes
    or no; action_booking_change applies it and reads the booking back again."""
    return bool(tracker.get_slot("booking_request_id")) and not text.startswith("/") and bool(_CORRECTION.search(text))


# "这回对了", "都对的 确认": yes to the booking read back, in words the classifier may not know
_CONFIRMS = re.compile(r"^(?:(?:这回|这下|现在|都|全|信息|嗯+|好|那)[，,\s]*)*(?:对|对了|对的|对头|没错|没问题|莫得问题|没得问题|可以|行|好的?|"
                       r"是的?|确认|确定|要得|ok)(?:了|的|啊|哈|嘛|呀|咯|噻|吧)*(?:[，,\s]*(?:确认|可以|没问题|就这样|约吧)(?:了|吧|嘛)?)*[。！!\s]*$",
                       re.IGNORECASE)


def confirms_the_read_back(tracker: Tracker, text: str) -> bool:
    """Yes said in words to the booking read back (booking_request_id set), whatever the classifier made of it."""
    return bool(tracker.get_slot("booking_request_id")) and bool(_CONFIRMS.search(text.strip()))


def about_the_booking_made(tracker: Tracker, text: str) -> bool:
    """Once a booking was made or found in this conversation: its code or mobile alone, or moving or cancelling said
    in words ("上午走不脱 挪到当天下午三点嘛") are about that booking."""
    booked = bool(tracker.get_slot("manage_code"))
    return gives_booking_details(text, booked) or (booked and not text.startswith("/") and (
        moves_or_cancels(text) or checks_again(text)))


# "那你再帮我查下嘛，电话就是这个", "麻烦重新查一下": the booking made or found here looked up again
_CHECK_AGAIN = re.compile(r"(再|重新|帮我|给我)(帮我|给我)?(查|看)(一?下|一哈|查|看)")


def checks_again(text: str) -> bool:
    """A look-up asked again in words, nothing else asked (not "再帮我查下社保卡要带啥")."""
    return len(text) <= 24 and bool(_CHECK_AGAIN.search(text)) and not aspects_in(text) and \
        get_index().resolve(_CHECK_AGAIN.sub("", text)).kind == "none"


MOVE_OFFERED = "可以改到这些时段"  # the words of action_manage_booking's offer of times for a move
MOVED_TO_EARLIEST = "这是您说的时段里最早能约的时间"  # ... and of its move to the earliest time of a part of the day


def picks_a_time_for_the_move(tracker: Tracker, text: str) -> bool:
    """"下午那个", "七点那个", "晚上不得行嗦 那明天中午十二点嘛" right after times for moving the booking were offered
    (the classifier may read it as a greeting, yes or a new booking), or right after it was moved to the earliest time
    of the part of the day asked for ("六点半那个" after "下周一晚上还有没得" took 18:00): the choice of the new time."""
    if text.startswith("/") or len(text.strip()) > 20 or cancel_said(text):
        return False
    said = last_said(tracker)
    offered = tracker.get_slot("manage_op") == "reschedule" and MOVE_OFFERED in said
    return (offered or MOVED_TO_EARLIEST in said) and parse_when(text, clock.now().replace(tzinfo=None)) is not None


def booking_followup(tracker: Tracker, text: str) -> list[dict[str, Any]] | None:
    """The booking flow a message given to a guide action belongs to: a correction at the read-back, the booking
    made, named or asked after ("码FGGAS2，手机158…", "电话159…", "那个预约我不去了", "预约退了嘛", "查下现在约的是星期几"),
    or a booking asked for with the question (action_start_booking answers the question first); None for a guide
    question."""
    if corrects_the_read_back(tracker, text):
        return [FollowupAction("action_booking_change")]
    if confirms_the_read_back(tracker, text):
        return [FollowupAction("action_submit_booking")]
    plain = NOT_BOOKING.sub("", text)  # "需要提前预约还是直接去": asks about booking, changes none
    if names_a_booking(text) or changes_a_booking(plain) or looks_up_a_booking(plain) or about_the_booking_made(tracker, plain) or \
            picks_a_time_for_the_move(tracker, text):
        return [FollowupAction("action_start_manage")]
    if not text.startswith("/") and NOT_FOUND in last_said(tracker) and gives_a_code_or_mobile(text):
        return [FollowupAction("action_start_manage")]  # "搞错了 电话是138…" right after the booking was not found
    if not text.startswith("/") and asks_to_book(plain):  # "户口迁移要多久办好，帮我约个明天中午": the answer, then the booking
        return [FollowupAction("action_start_booking")]
    return None


def asks_of_current(tracker: Tracker, text: str) -> bool:
    """An aspect asked in words while an item is in context ("在那儿开哦", "她走不动路 我去交要得不"), whatever the
    classifier made of it (a greeting, yes or no)."""
    return bool(tracker.get_slot("item")) and not text.startswith("/") and bool(aspects_in(text))


def switches_item(text: str) -> bool:
    """"那护照呢", "港澳通行证的话": a short message that only names another item (the classifier may read "那…呢" as
    no or yes)."""
    raw = text.strip()
    return not raw.startswith("/") and _short_switch(raw) and get_index().resolve(raw).kind == "answer"


_A_STATE = re.compile(r"家?.{0,2}(走路|身体|行动|腿脚|眼睛|耳朵|不方便|来不了|去不了|走不动|住院|生病|卧床|瘫)")
# one says who one is ("我是农村户口，够不够条件"): a detail of the citizen, not the topic (户口) asked about
_SAID_OF_ONESELF = re.compile(r"(?:我|我们|我家|他|她|娃儿?|孩子)(?:是|属于|都是)[^，,。？?！!\s]{0,8}$")


def topic_said_of_oneself(text: str) -> bool:
    """"我是农村户口，够不够条件": the topic's word (户口) tells who the citizen is; the question is about the item in
    context."""
    topic = topic_of(text)
    if topic is None:
        return False
    said = simplified(text)
    at, word = max(((said.find(w), w) for w in topic.words), default=(-1, ""))
    # ... or the person the topic's word names is in a state told ("老人家走路不方便，必须本人去不" after the ID card)
    return at >= 0 and (bool(_SAID_OF_ONESELF.search(said[:at])) or bool(_A_STATE.match(said, at + len(word))))


def _short_switch(raw: str) -> bool:
    """A short message led or ended as a switch of item ("那…呢", "…的话")."""
    return len(raw) <= 16 and bool(_SWITCH_LEAD.search(raw))


def the_one_item_switched_to(tracker: Tracker, text: str, hits: list[Hit]) -> Entry | None:
    """"卡掉了补办的话呢" after 社保卡申领: a short switch ("…的话呢", "那…呢") from an item in context with a single
    item close enough to offer: that item (a list of one option would only ask for a click)."""
    if len(hits) == 1 and tracker.get_slot("item") and _short_switch(text.strip()) and \
            not get_index().says_what_the_guide_does_not(text, hits[0].entry):  # ("那去泰国要办签证不": a visa)
        return hits[0].entry
    return None


# a document taken along ("要不要带结婚证哦", "户口本要带不", "身份证和户口本都要带吗"): a material of the item in context, not another item
_DOCUMENT = r"[^，。？?！!、\s]{1,10}?(?:证|卡|照|本|簿|书|明|件|章)"
_BRINGS = (re.compile(rf"带(?:上|着|起)?({_DOCUMENT})"),  # "要不要带结婚证哦"
           re.compile(rf"({_DOCUMENT})(?:原件|复印件)?(?:都|也|还)?(?:要不要|需不需要|用不用|要|需要|得)带(?:上|着)?(?:不|吗|么|没|嘛|哦|[？?]|$)"))  # "户口本要带不"


def brings_a_document(text: str) -> bool:
    """Whether the message asks about taking a document along and names no item besides it: the document ("结婚证")
    may be another item's name (补领结婚证), but what is asked is whether the item in context needs it."""
    said = simplified(text)
    found = _BRINGS[0].search(said) or _BRINGS[1].search(said)
    if found is None:
        return False
    rest = said.replace(found.group(1), "")
    resolution = get_index().resolve(rest)
    return not (resolution.kind == "answer" and names_an_item(resolution.hits))


def still_about(current: Entry, other: Entry, text: str) -> bool:
    """Whether a follow-up resolved to `other` still means the item in context: it says a word of the current item's
    name and no word of the other's names the current item's lack ("补领要带啥子" right after 补领结婚证, though 补领 also
    fits the ID card)."""
    words = [w for w in get_index().tokens(normalize(text)) if len(w) >= 2]
    mine, theirs = _words_of(current), _words_of(other)  # "第一次申领社保卡的话呢": 社保卡 is the other's alias
    return any(w in current.name for w in words) and not any(w in theirs and w not in mine for w in words)


def _words_of(entry: Entry) -> str:
    return " ".join(normalize(w) for w in [entry.name, *entry.aliases, *entry.keywords])


def says_a_word_of(other: Entry, current: Entry, text: str) -> bool:
    """Whether the message says a word of `other`'s name, aliases or keywords that `current`'s lack, nor its example
    questions ("给娃上户口要带啥子" right after 出生医学证明: 上户口 is 出生登记's word; "网上能报名不" right after the
    migrant children's school entry, whose questions say 报名 too, is about it), so a short follow-up is about `other`."""
    mine = _words_of(current) + " " + " ".join(normalize(q) for q in current.questions)
    theirs = _words_of(other)
    return any(w in theirs and w not in mine for w in get_index().tokens(without_aspect_cues(normalize(text)))
               if len(w) >= 2 and w not in _EVERYDAY_WORDS)


# words of every kind of message, though a guide's keyword may hold one ("直接结算"): "网上能不能直接打" names no item
_EVERYDAY_WORDS = frozenset("直接 不能 可以 能够 现在 还是 需要 一下 这个 那个 自己 已经 一起 马上 还要 就是 或者 然后".split())


_NAME_SUFFIX = re.compile(r"(申请|登记|办理|签发|审批|认定)$")


def says_every_word_of(entry: Entry, text: str) -> bool:
    """"我想自己开个店创业 有没得补贴": every word of the item's name (创业, 补贴; not the 申请 that ends it) is said,
    apart: the message names the item, not the kind of help ("有没有啥子救助")."""
    core = normalize(_NAME_SUFFIX.sub("", entry.name))
    words = pairs_of(core, step=2)  # "创业补贴": 创业, 补贴 (the tokenizer keeps it whole)
    said = normalize(text)
    return 2 <= len(words) <= 3 and all(w in said for w in words)


def names_an_item(hits: list[Hit], strength: float = NAMED) -> bool:
    """Whether the best hit is named in the message (not just loosely related to its words); with FULL_NAME, its whole
    name or a long alias ("企业职工退休", not "社保卡", which two items share)."""
    return bool(hits) and max(hits[0].signals.get("name", 0.0), hits[0].signals.get("pinyin", 0.0)) >= strength


_AND = re.compile(r"和|跟|与|以及|还有|、")
_BOTH = re.compile(r"各|分别|都|两(个|样|件|项)|一起|同时|一块")  # both are to be done: "…都要办 各自要带些啥"
_WHAT = re.compile(r"啥|什么|哪|怎么|咋|多少|多久|几")  # ... and what of them is asked (not "身份证和户口本都要带吗")


def items_named_apart(text: str) -> list[Entry]:
    """"我想问下办身份证和户口迁移各要带啥子": two guides, each named on its own side of an "and", both to be done: the
    two, in the order said. None when one item's name holds the "and" (港澳通行证及签注), nor for documents one has
    ("我有身份证和户口本，能办护照吗": nothing says both are to be done) or brings ("身份证和户口本都要带吗": nothing
    asks what)."""
    said = simplified(text)
    index = get_index()
    for found in _AND.finditer(said):
        left, right = said[:found.start()], said[found.end():]
        if not (_BOTH.search(right) and _WHAT.search(right)):
            continue
        sides = [index.resolve(left), index.resolve(right)]
        if all(r.kind == "answer" and names_an_item(r.hits) and r.hits[0].entry.detailed for r in sides):
            first, second = (r.hits[0].entry for r in sides)
            if first.id != second.id:
                return [first, second]
    return []


def last_said(tracker: Tracker) -> str:
    """The assistant's last message before this turn (its text: a note for the insight pages has none)."""
    return next((e["text"] for e in reversed(tracker.events) if e.get("event") == "bot" and e.get("text")), "")


def takes_up_the_appeal(tracker: Tracker, text: str) -> bool:
    """Whether the message answers an offer to file the problem told before (not_found below) with more about the problem
    ("在甘江镇一个砖厂 十几个工人都没拿到") rather than a question about a service or a no: the offer is taken up."""
    return last_said(tracker).startswith(APPEAL_OFFER_LEAD) and not text.startswith("/") and \
        latest_intent(tracker) not in ("deny", "goodbye", "thanks", "request_human") and get_index().resolve(text).kind != "answer"


def answer_in_passing(dispatcher: CollectingDispatcher, text: str, in_context: str | None = None) -> str | None:
    """A question about one item asked in the middle of a form ("顺便问下 我妈还没参加城乡居民养老保险 咋个参保"), or
    an aspect of the item answered in passing just before ("正常要跑几趟才办得完"): answered (the form then asks its own
    question again); the item's id, or None when it names no one item."""
    if text.startswith("/") or not asks_something(text):  # "我是昨天下午去办社保卡遇到的": told, not asked
        return None
    index = get_index()
    resolution = index.resolve(text)
    asked = aspects_in(text)
    entry = resolution.entry if resolution.kind == "answer" else None
    if entry is None and resolution.kind == "none" and asked and in_context:
        entry = index.kb.by_id(in_context)
    if entry is None:
        return None
    aspect = asked[0] if asked else "item"
    say(dispatcher, answer(entry, aspect, also_asked(text, aspect)))
    return entry.id


def earlier_message(tracker: Tracker) -> str:
    """The citizen's message before this one (typed, not a button), e.g. the question the options answered."""
    said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    return said[-2] if len(said) >= 2 and not said[-2].startswith("/") else ""


_THAT_ONE = re.compile(r"[，,。、\s]|那个|这个|那种|的|嘛|哦|呀|就是|是")


def pick_candidate(text: str, candidates: list[str], earlier: str = "") -> Entry | None:
    """One of the offered items, picked by number ("第二个") or by a detail ("给孩子办的", "外地户口"), read alone or,
    failing that, together with the message the options answered ("问下户口的事" + "给娃办的 刚生的")."""
    index = get_index()
    match = ORDINAL_RE.match(normalize(text)) or _STEP.search(text)
    if match and 1 <= ORDINALS[match.group(1)] <= len(candidates):
        rest = match.string[match.end():]
        named = index.resolve(rest) if len(rest) >= 4 else None
        if named is not None and named.entry is not None and named.entry.id in candidates and names_an_item(named.hits):
            return named.entry  # "第二个嘛，就是迁户口那个": what is said of it, when it names another of the options
        word = _THAT_ONE.sub("", normalize(rest))  # "第二个，个体户那个": a word of one option's names says which
        having = [e for e in (index.kb.by_id(c) for c in candidates) if e is not None and len(word) >= 2
                  and word in " ".join(normalize(n) for n in [e.name, *e.aliases])]
        if len(having) == 1:
            return having[0]
        return index.kb.by_id(candidates[ORDINALS[match.group(1)] - 1])
    if _FIRST.search(simplified(text)) and candidates:  # after a life event's steps (in order), the first of them
        return index.kb.by_id(candidates[0])
    # the reply read alone, then the kind of thing it says, then the reply read with the message the options answered
    # ("我妈82了，有啥子福利" + "领钱的那个": the allowance, however the whole story leans)
    # (an aspect alone picks none by its words: "手机上能办不" is no more the e-voucher's than any other's)
    picked = None if only_an_aspect(text) else _picked_by_score(text, candidates)
    if picked is None:
        picked = _picked_by_kind(text, candidates)
    if picked is None and earlier and not _BARE_REPLY.match(normalize(text)):
        picked = _picked_by_score(f"{earlier}，{text}", candidates)
    return picked


def _picked_by_score(reading: str, candidates: list[str]) -> Entry | None:
    index = get_index()
    hits = index.search(reading, top=50)
    variant = index.variant_of(reading, [h for h in hits if h.entry.id in candidates])
    if variant is not None:  # "我是农村的，没得单位，想自己交" among the pension options: the residents' scheme
        return variant.entry
    scores = {h.entry.id: h.score for h in hits if h.entry.id in candidates}
    ranked = sorted(scores.values(), reverse=True) + [0.0, 0.0]
    if ranked[0] >= 0.15 and ranked[0] >= PICK_MARGIN * ranked[1]:
        return index.kb.by_id(max(scores, key=scores.__getitem__))
    return None


def _picked_by_kind(text: str, candidates: list[str]) -> Entry | None:
    said = normalize(text)
    for detail, in_name in _KIND_OF_ITEM:  # "领钱的那个" between a card and an allowance: the one whose name says money
        if detail.search(said) and not aspects_in(text):  # ("要收钱不" asks the fee of them all)
            fitting = [e for e in (get_index().kb.by_id(c) for c in candidates) if e is not None and in_name.search(e.name)]
            if len(fitting) == 1:
                return fitting[0]
    return None


# a detail that says what kind of thing the item gives, and the words of the names of items that give it
_KIND_OF_ITEM = [(re.compile(r"钱|补贴|津贴|补助"), re.compile(r"津贴|补贴|补助|待遇|救助|贷款")),
                 (re.compile(r"证|卡|本本"), re.compile(r"证|卡"))]


def picks_an_offered_item(tracker: Tracker, text: str) -> bool:
    """"卡搞掉了" right after options were offered (the classifier may read it as yes or a greeting): a detail that picks."""
    candidates = tracker.get_slot("candidates") or []
    return bool(candidates) and not text.startswith("/") and pick_candidate(text, candidates, earlier_message(tracker)) is not None


def offer(dispatcher: CollectingDispatcher, entries: list[Entry], aspect: str, vague: bool, topic: str | None = None) -> list[dict[str, Any]]:
    entries = entries[:MAX_OPTIONS]
    say(dispatcher, choose(entries, question_is_vague=vague, topic=topic))
    return [SlotSet("candidates", [e.id for e in entries]), SlotSet("aspect", aspect)]


def remembered_aspect(tracker: Tracker, text: str, aspect: str) -> str:
    """The aspect to keep while the citizen chooses among offered items: one the message says in words, or the
    classifier is sure of; a weak guess ("咨询点户口上的事" read as ask_online at 0.45) is not carried to the answer."""
    if aspect == "item" or aspect_in(text):
        return aspect
    return aspect if (tracker.latest_message.get("intent") or {}).get("confidence", 1.0) >= SURE_ASPECT else "item"


def a_topic_and_an_aspect(text: str) -> bool:
    """"港澳的要好多钱", "不动产中心几点上班": a topic's word (with the office that runs it) and an aspect asked, nothing
    else named ("今年城乡居民医保一个人交好多钱" names more)."""
    topic, said = topic_of(text), normalize(text)
    words = [w for w in topic.words if w in said] if topic is not None else []
    return bool(words) and only_an_aspect(_OFFICE.sub("", said.replace(max(words, key=len), "")))


_OFFICE = re.compile(r"^(登记)?(中心|大厅|窗口|那边|那里|这边)")  # the office of the topic said: "不动产(登记)中心"


def earlier_item_among(tracker: Tracker, ids: list[str], current: str | None) -> Entry | None:
    """"身份证呢" after 居民身份证办理 and then 居住证: of the items a topic's word names, the one the conversation was
    about before (the latest), if any."""
    said = [e.get("value") for e in tracker.events if e.get("event") == "slot" and e.get("name") == "item" and e.get("value")]
    return next((get_index().kb.by_id(i) for i in reversed(said) if i in ids and i != current), None)


def sibling_switched_to(current: Entry, text: str) -> Entry | None:
    """"注销的话呢" after 个体工商户设立登记: the one guide whose name says the switch's word (注销) and shares the
    current item's subject (个体工商户, three characters or more), not the company's 企业简易注销登记."""
    rest = _SWITCH_WORDS.sub("", normalize(text))
    if len(rest) < 2:
        return None
    found = [e for e in get_index().kb.guides if e.id != current.id and any(pair in e.name for pair in pairs_of(rest))
             and shared_length(e.name, current.name) >= 3]
    return found[0] if len(found) == 1 else None


_SWITCH_WORDS = re.compile(r"^(那么?|还有)|(的话|呢|喃|嘞|咧|哦)+$|的话")


def topic_entries(text: str) -> tuple[str, list[Entry]] | None:
    """The vague opening's topic and its items, best match to the text first."""
    topic = topic_of(text)
    return ranked(topic, text) if topic is not None else None


def ranked(topic: Topic, text: str) -> tuple[str, list[Entry]]:
    """A topic's name and its items, best match to the text first."""
    return topic.name, [entry for entry, _ in _scored(topic, text)]


def _scored(topic: Topic, text: str) -> list[tuple[Entry, float]]:
    index = get_index()
    entries = [e for e in (index.kb.by_name(name) for name in topic.items) if e is not None]
    scores = {h.entry.id: h.score for h in index.search(text, top=50)}
    return sorted(((e, scores.get(e.id, 0.0)) for e in entries), key=lambda pair: -pair[1])


def kinds_asked(text: str, resolution: Resolution) -> tuple[str, list[Entry]] | None:
    """Which kinds of help there are, asked after a story that more than one of them fits ("屋头条件困难 老公生病了干不了活
    娃儿还在读书 有啥子救助没得"): the topic of the search's best hit, its kinds best first; None when one kind alone fits
    ("屋头失火了…有没得啥子救助": 临时救助, answered) or the question asks no such thing."""
    if not resolution.hits or not _ASKS_PROGRAMMES.search(normalize(text)):
        return None
    topic = next((t for t in topics() if resolution.hits[0].entry.name in t.items), None)
    scored = _scored(topic, text) if topic is not None else []
    return (topic.name, [e for e, _ in scored]) if topic is not None and len(scored) > 1 and scored[1][1] >= SEVERAL_FIT \
        else None


def topic_asked(text: str, resolution: Resolution) -> tuple[str, list[Entry]] | None:
    """The topic a question asks about: said alone, or with the search's first hit among its items. A word of a topic in
    passing replaces neither the help found ("…娃儿还在读书 有啥子救助没得") nor a sure answer the topic lacks
    ("外婆八十五了，每个月有补助领没" is the old-age allowance, whatever 补助 says)."""
    topical = topic_entries(text)
    if topical and (only_a_topic(text) or resolution.hits[0].entry.id in {e.id for e in topical[1]}):
        return topical
    return None


def wanted_event(text: str, resolution: Resolution) -> LifeEvent | None:
    """The life event a question asks for as a whole: named or asked as its example questions, or, naming no item,
    asking for everything about the situation that the event's first step is for."""
    events = get_index().kb.events
    event = asked_event(text, events)
    if event is not None and names_an_item(resolution.hits, FULL_NAME) and \
            resolution.hits[0].entry.name in (step.item for step in event.steps):
        return None  # "老年人优待证要办哪些手续": one of the event's steps named in full is the question
    if event is None and resolution.hits and not names_an_item(resolution.hits):
        event = event_begun_by(text, resolution.hits[0].entry.name, events)
    if event is None and resolution.hits and _NEXT_STEPS.search(text) and CUE.search(text):
        # "公司执照办下来了，接下来还要办些啥子": a step done, the rest asked: the one event that step is part of
        part_of = [e for e in events if any(step.item == resolution.hits[0].entry.name for step in e.steps)]
        event = part_of[0] if len(part_of) == 1 else None
    return event


_NEXT_STEPS = re.compile(r"(办|拿|领|批)(下来|好|到)了|接下来|下一步|然后(还|又)")


STEPS_RECALLED = 4  # user turns back in which a life event's list of steps is still in context


def steps_listed_before(tracker: Tracker) -> list[str]:
    """The items of the life event whose steps the assistant listed within the last STEPS_RECALLED turns (its
    options have since been left for one of them), in order; [] if none was."""
    turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            turns += 1
            if turns > STEPS_RECALLED:
                break
        said = event.get("text") or "" if event.get("event") == "bot" else ""
        if said.startswith(EVENT_LEAD):
            name = said[len(EVENT_LEAD):].split("】", 1)[0]
            kb = get_index().kb
            found = next((e for e in kb.events if e.name == name), None)
            return [entry.id for entry in (kb.by_name(step.item) for step in found.steps) if entry] if found else []
    return []


def tell_event(dispatcher: CollectingDispatcher, event: LifeEvent, aspect: str, text: str = "") -> list[dict[str, Any]]:
    """List a life event's steps; its items become the candidates, so "第二步要带什么" answers that step. A question
    that says the condition of one of its alternative steps ("去香港耍要办啥子证件") gets that step's guide."""
    kb = get_index().kb
    step = chosen_step(event, text)
    chosen = kb.by_name(step.item) if step is not None else None
    if chosen is not None:
        return _answered(dispatcher, chosen, aspect, text)
    found = [kb.by_name(step.item) for step in event.steps]
    if None in found:  # a newer knowledge version no longer holds one of its steps
        say(dispatcher, gone(event.steps[found.index(None)].item))
        return [SlotSet("aspect", aspect if aspect != "item" else None)]
    entries = [e for e in found if e is not None]
    services = current_or_none()
    link_base = services.settings.public_url.rstrip("/") if services is not None else ""
    say(dispatcher, event_answer(event, entries, link_base))
    return [SlotSet("candidates", [e.id for e in entries]), SlotSet("aspect", aspect if aspect != "item" else None),
            SlotSet("item", None)]


def tell_pinned(dispatcher: CollectingDispatcher, text: str) -> list[dict[str, Any]] | None:
    """A question staff pinned an answer to (人工干预, knowledge/pinned.py): that answer, before any search, with its
    outcome noted (bot/insight/outcomes.py); None for any other question."""
    kb = get_index().kb
    found = kb.pinned.match(text)
    if found is None:
        return None
    entry = kb.by_id(found.item or "")
    say(dispatcher, pinned_reply(found, entry.name if entry else None, entry.id if entry else None))
    dispatcher.utter_message(json_message={NOTE: {"kind": "answered", "item": entry.id if entry else None, "aspect": "pinned",
                                                  "pinned": found.id}})
    return [SlotSet("item", entry.id if entry else None), SlotSet("candidates", None)]


def not_found(dispatcher: CollectingDispatcher, text: str) -> None:
    """Nothing in the guides fits. A problem for a department ("我们村停水三天了，找哪个部门") is offered as an appeal
    (bot/appeals: the button starts the intake form); anything else gets the way onward."""
    services = current_or_none()
    recognised = services.appeals.recognise(text) if services is not None and not text.startswith("/") else None
    if recognised is None:
        say(dispatcher, unknown())
        return
    message, buttons = appeal_offer(recognised.department_name)
    say(dispatcher, Answer(message, buttons))


def respond(dispatcher: CollectingDispatcher, tracker: Tracker, aspect: str) -> list[dict[str, Any]]:
    """Resolve the item from the text (or keep the one in context) and answer the aspect."""
    index = get_index()
    text = tracker.latest_message.get("text") or ""
    if takes_up_the_appeal(tracker, text):
        return [FollowupAction("action_start_appeal")]
    pinned = tell_pinned(dispatcher, text)
    if pinned is not None:
        return pinned
    aspect = asked_aspect(aspect, text, tracker.get_slot("aspect"))
    asked = aspects_in(text)
    if aspect == "item" and not asked and last_said(tracker).startswith(WHICH_ITEM_LEAD):
        aspect = tracker.get_slot("aspect") or "item"  # "要带什么材料" → "which matter?" → "身份证补办": its materials
    in_context = index.kb.by_id(tracker.get_slot("item") or "")
    if in_context is None and not tracker.get_slot("item") and tracker.get_slot("booking_item"):
        in_context = index.kb.by_name(tracker.get_slot("booking_item"))  # "要带啥" after booking it: the item booked
    # "顺便问下 公积金取出来咋个弄": not about the item in context; nor "车子过户在你们这办得到不" after the property transfer
    # (a thing its guide never speaks of: the search's own guard, knowledge/search.py)
    current = None if in_context is None or opens_new_topic(in_context, text) or index.says_what_the_guide_does_not(
        text, in_context) else in_context
    resolution = index.resolve(text) if not text.startswith("/") else None
    both = items_named_apart(text) if resolution is not None else []  # (regexes first: brings_a_document searches)
    if both and not brings_a_document(text):  # each answered; what follows without a name asks which of them
        for one in both:
            say(dispatcher, answer(one, aspect, also_asked(text, aspect)))
        return [SlotSet("item", None), SlotSet("aspect", aspect), SlotSet("candidates", [e.id for e in both])]
    if resolution is not None and resolution.kind == "answer" and only_an_aspect(text) and not names_an_item(resolution.hits):
        # "要好久", "手机上弄得到不": an aspect and nothing of which matter; the item such words were most often asked of
        # is a guess: the item in context is meant, or the options just given, or the citizen is asked which matter
        resolution = Resolution("none", [])
    if tracker.get_slot("item") and in_context is None and (resolution is None or resolution.kind == "none"):
        say(dispatcher, gone(retired_name(tracker.get_slot("item"))))  # the item asked about left the knowledge base
        return [SlotSet("item", None), SlotSet("aspect", aspect)]
    # everything a life event needs, not one of its items
    event = wanted_event(text, resolution) if resolution is not None else None
    if event is not None:
        return tell_event(dispatcher, event, aspect, text)
    candidates = tracker.get_slot("candidates") or []
    # "车子年审在哪儿弄" after the vaccination certificate was offered: not about what was offered
    candidates = [i for i in candidates if not ((e := index.kb.by_id(i)) and index.says_what_the_guide_does_not(text, e))]
    follow_up = len(candidates) == 1 and len(normalize(text)) <= FOLLOW_UP_LENGTH and not (resolution and names_an_item(resolution.hits))
    if follow_up and resolution is not None and resolution.kind == "answer" and (only := index.kb.by_id(candidates[0])):
        # "那我顺便问下 公租房在哪儿申请" after a single option: 公租房 is a word of the guide the words fit, not of the option
        follow_up = resolution.hits[0].entry.id == only.id or not says_a_word_of(resolution.hits[0].entry, only, text)
    # once a step was asked after, the life event's steps listed a few turns ago still say what "营业执照那个" is
    steps = [] if candidates else steps_listed_before(tracker)
    # "退休了还要交个税不" after the retirement's steps: a tax no step's guide speaks of is none of them
    steps = [i for i in steps if not ((e := index.kb.by_id(i)) and index.says_what_the_guide_does_not(text, e))]
    # "营业执照那个网上能办不" after the shop's steps: the step it says (个体工商户设立登记), not the company's guide the
    # words fit best on their own; an item named in full is a switch away from the options
    listed = candidates or steps
    fits = resolution.entry if resolution and resolution.kind == "answer" else None
    alike = [e for e in map(index.kb.by_id, listed) if e and shared_length(fits.name, e.name) >= 3] if (
        resolution and fits is not None and fits.id not in listed and not names_an_item(resolution.hits, FULL_NAME)) else []
    elsewhere = bool(alike)
    # ... or, when the words fit several items, the one of them that is a step
    step_among = [h.entry for h in resolution.hits if h.entry.id in steps] if steps and resolution and resolution.kind == "choose" else []
    # ... or a detail said alone picks one of the options, though the words fit another item they do not name ("还没办过
    # 证的 第一次办证那种" after the disability topic's options: the certificate, not the social security card)
    unnamed = bool(candidates) and fits is not None and fits.id not in candidates and resolution is not None and \
        not names_an_item(resolution.hits) and not follow_up and not elsewhere
    if candidates and (follow_up or elsewhere or unnamed or not (resolution and resolution.kind == "answer")) or steps and (elsewhere or step_among):
        # a number or a detail picks one; after a single option, a short follow-up that names no item takes it
        picked = index.kb.by_id(candidates[0]) if follow_up else pick_candidate(
            text, listed, "" if unnamed else earlier_message(tracker))  # (read alone: the words fit another item)
        if picked is None and len(step_among) == 1:
            picked = step_among[0]
        if picked is None and len(alike) == 1:  # no detail picks, but only one of them is a kind of what the words fit (设立登记)
            picked = alike[0]
        if picked is not None:  # a detail or a number picks one of the items just offered
            first = bool(_FIRST.search(simplified(text)))
            if first and not asked:  # "先办哪个": that step, as a whole
                aspect = "item"
            elif aspect == "item" and not asks_how(text):  # ("咋个申请": the overview and the steps, whatever was asked before)
                aspect = tracker.get_slot("aspect") or "item"
            say(dispatcher, answer(picked, aspect, also_asked(text, aspect)))
            by_step = first or bool(_STEP.search(text))  # a life event's steps stay: "第二步呢"
            return [SlotSet("item", picked.id), SlotSet("aspect", aspect)] + ([] if by_step else [SlotSet("candidates", None)])
        if candidates and only_an_aspect(text) and current is None:  # "要好多钱" while the options wait: which of them (the aspect kept)
            return offer(dispatcher, [e for e in (index.kb.by_id(i) for i in candidates) if e], aspect, vague=True)
    kinds = kinds_asked(text, resolution) if resolution is not None and resolution.kind == "answer" else None
    asks_which = kinds is not None or len(normalize(text)) <= VAGUE_WHICH and bool(_ASKS_WHICH.search(normalize(text)))
    if resolution is not None and resolution.kind == "answer" and (
            asks_which and not names_an_item(resolution.hits) and not says_every_word_of(resolution.hits[0].entry, text)
            or (_ABOUT_THINGS.search(text) or only_a_topic(text)) and not asked and not an_items_own_word(text)
            and not (in_context is not None and _short_switch(text.strip()) and names_an_item(resolution.hits))
            and not (asks_how(text) and (names_an_item(resolution.hits, FULL_NAME)
                                         or resolution.hits[0].matched and not names_an_item(resolution.hits)))):
        # ("企业职工退休的事 到年龄了咋个申请": asked, the item named in full; "养老金的事情就是我妈满六十岁了农村户口的咋个
        # 领": asked, and the story, not a name word several items share like "社保卡的事咋个办", makes the item clear)
        # "屋头困难得很，有没有啥子救助": which kinds of help there are; "社保卡的事想问下": a topic, not yet a question
        # (but "那开公司呢" right after another item: a switch that names the item, the same question about it)
        topical = topic_asked(text, resolution) or kinds
        if topical:
            return offer_topic(dispatcher, tracker, topical, aspect, text)
    if resolution is not None and resolution.kind == "answer":
        entry = resolution.entry
        assert entry is not None  # an answer has its entry
        if current is not None and entry.id != current.id and (still_about(current, entry, text) or brings_a_document(text) or (
                asked and not names_an_item(resolution.hits) and not says_a_word_of(entry, current, text) and (
                    len(normalize(text)) <= FOLLOW_UP_LENGTH
                    or index.resolve(without_aspect_cues(normalize(text))).kind == "none"))):
            # "换一张要多久" right after 社保卡补领: a follow-up, though 换 fits the ID card better; "网上办得到不，我儿子说手机上
            # 可以弄" right after the retirement: nothing but the aspect asked points at another item (手机 fits the e-voucher)
            entry = current
        if entry.id in candidates and aspect == "item":  # the answer to our clarifying question: what was asked stays
            aspect = tracker.get_slot("aspect") or "item"
    elif resolution is not None and resolution.kind == "choose" and current is not None and resolution.hits[0].entry.id == current.id:
        entry = current  # "港澳的要好多钱", "接种证要钱不" right after that item: the options would lead with it
    elif resolution is not None and resolution.kind == "choose" and (current is None or names_an_item(resolution.hits)):
        topical = topic_asked(text, resolution) if only_a_topic(text) or not names_an_item(resolution.hits) else None
        if topical:
            return offer_topic(dispatcher, tracker, topical, aspect, text)
        switched = the_one_item_switched_to(tracker, text, resolution.hits)
        if switched is None:
            return offer(dispatcher, [h.entry for h in resolution.hits], remembered_aspect(tracker, text, aspect),
                         vague=len(normalize(text)) <= VAGUE_LENGTH)
        entry = switched
    elif current is None and candidates and resolution is not None and resolution.kind == "none":
        offered = [e for e in (index.kb.by_id(i) for i in candidates) if e]
        if len(offered) != 1:  # "要带啥子" right after a list of steps or options: which one?
            return offer(dispatcher, offered, aspect, vague=True)
        entry = offered[0]  # the one item offered, and the citizen goes on asking about it
    elif current is not None and not (resolution is None or resolution.kind == "none" and topic_of(text)
                                      and not topic_said_of_oneself(text)):
        entry = current
    else:
        topical = topic_entries(text) if resolution is not None else None
        if topical and current is not None and any(e.id == current.id for e in topical[1]) and a_topic_and_an_aspect(text):
            topical = None  # "港澳的要好多钱" right after 港澳通行证: a question about it
        sibling = sibling_switched_to(in_context, text) if in_context is not None and _short_switch(text.strip()) else None
        if sibling is not None:  # (before the topic: 注销 is one, but the switch names which of its items)
            return _answered(dispatcher, sibling, aspect, text)  # "注销的话呢" after the sole proprietor's registration
        if topical:
            return offer_topic(dispatcher, tracker, topical, aspect, text)
        if current is not None:
            entry = current
        elif only_an_aspect(text):  # "要带什么材料" with nothing in context: which matter? (not "not found")
            say(dispatcher, which_item(aspect))
            return [SlotSet("aspect", aspect)]
        else:
            not_found(dispatcher, text)
            return [SlotSet("aspect", aspect)]
    more = also_asked(text, aspect)
    if not more and current is not None and entry.id != current.id and not aspects_in(text) and _short_switch(text.strip()):
        more = also_asked(earlier_message(tracker), aspect)  # "公司社保开户咋个办", "员工的就业登记呢": the steps too, again
    say(dispatcher, answer(entry, aspect, more))
    return [SlotSet("item", entry.id), SlotSet("aspect", aspect), SlotSet("candidates", None)]


def offer_topic(dispatcher: CollectingDispatcher, tracker: Tracker, topical: tuple[str, list[Entry]], aspect: str,
                text: str) -> list[dict[str, Any]]:
    """A topic's items to choose from; a short switch to a topic ("身份证呢") whose item the conversation was about
    before answers that item instead."""
    recalled = earlier_item_among(tracker, [e.id for e in topical[1]], tracker.get_slot("item")) \
        if _short_switch(text.strip()) else None
    if recalled is not None and not get_index().says_what_the_guide_does_not(text, recalled):  # (not "那车子过户呢")
        return _answered(dispatcher, recalled, aspect, text)
    return offer(dispatcher, topical[1], remembered_aspect(tracker, text, aspect), vague=True, topic=topical[0])


def _answered(dispatcher: CollectingDispatcher, entry: Entry, aspect: str, text: str) -> list[dict[str, Any]]:
    say(dispatcher, answer(entry, aspect, also_asked(text, aspect)))
    return [SlotSet("item", entry.id), SlotSet("aspect", aspect), SlotSet("candidates", None)]


def answer_question(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    """Answer the latest message as a service question: the aspect it asks about, else the overview."""
    return respond(dispatcher, tracker, aspect_of("ask_" + (aspect_in(tracker.latest_message.get("text") or "") or "item")))


class ActionAnswerGuide(Action):
    """Answer the asked aspect (materials, steps, time, fee, place, online, visits) of an item."""

    def name(self) -> str:
        return "action_answer_guide"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        turned = not_a_question(dispatcher, tracker, tracker.latest_message.get("text") or "")
        return turned if turned is not None else respond(dispatcher, tracker, aspect_of(latest_intent(tracker)))


# "约补领结婚证", "我想约个时间办灵活就业人员的养老保险参保登记": booking, then what to do; not "预约办理要带啥"
_BOOKS_TO_DO = re.compile(r"(?:^|[想要我\s，,]|帮我|给我)预?约(?:一?个|一?下)?(?:时间|号)?去?(?:办|补|换|领|迁|开|登记|申请)")


# "我要约城乡居民养老保险参保": the service named right after 约
_BOOKS_NAMED = re.compile(r"(?:我?(?:想|要)|帮我|给我)预?约(?!的|了|好|过|在)(?P<rest>.{2,})")


_CAN_BOOK = re.compile(r"(?:能|可以|可不可以|能不能)预?约(?:一?个|一?下)?(?:不|吗|没|嘛|哇|哦|不嘛)?(?:[？?。！!，,\s]|$)")


def asks_whether_bookable(text: str) -> bool:
    """"办居住证能约不", "出生医学证明那个能预约不": whether it can be booked, which the booking form answers (the dates,
    or that it cannot be booked)."""
    said = simplified(text)
    return bool(_CAN_BOOK.search(said)) and not NOT_BOOKING.search(said)


def books_a_service(text: str) -> bool:
    """A booking asked for with the service to do, and no question asked of it."""
    said = simplified(text)
    if NOT_BOOKING.search(said) or aspects_in(text):
        return False
    named = _BOOKS_NAMED.search(said)
    return bool(_BOOKS_TO_DO.search(said)) or named is not None and get_index().resolve(named.group("rest")).kind == "answer"


# "换身份证晚上能办不 我白天要上班": whether it can be done out of hours, for someone the working hours do not suit: the
# hours, then the "5+X" booking (action_start_booking answers the question first)
_OFF_HOURS = re.compile(OFF_HOURS)  # knowledge/answers.py, the location cue's part
_WORKS_DAYTIME = re.compile(r"白天|上班|走不开|走不脱|没空|没时间|请不到假")


def needs_off_hours(text: str) -> bool:
    return bool(_OFF_HOURS.search(text)) and bool(_WORKS_DAYTIME.search(_OFF_HOURS.sub("", text)))


def not_a_question(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> list[dict[str, Any]] | None:
    """The second look at a turn given to answering (by the classifier or its fallback): a message that says in so
    many words what else it wants is that, whichever way the classifier leaned (two models trained alike but for
    the seed disagree on "没得了" or "约补领结婚证"): a booking's details or its management, a new booking, a person,
    or nothing more."""
    followup = booking_followup(tracker, text)  # "顺便查一下嘛，LHKSZ6，188…", "不对，电话是139…"
    if followup is not None:
        return followup
    if asks_to_book(text) or books_a_service(text) or needs_off_hours(text) or asks_whether_bookable(text):
        # "下周三晚上六点约个办个体户营业执照，名字张小燕，手机177…"; "那上户口那个呢，能约不" (the form says if it cannot be)
        return [FollowupAction("action_start_booking")]
    if wants_a_person(text):  # "你这个机器人说的啥子哦 气死人了 我要找真人", not understood as a request
        return [FollowupAction("action_request_human")]
    if says_again(dispatcher, tracker, text):  # "再说一遍", whichever way the classifier read it
        return []
    if says_nothing_more(text):  # "没得了": done, as a goodbye
        return goodbye_then_rating(dispatcher)
    return None


class ActionChooseItem(Action):
    """The citizen picked one of the offered items: answer what they had asked about it."""

    def name(self) -> str:
        return "action_choose_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        if about_the_booking_made(tracker, text) or names_a_booking(text):  # "电话159…" after a booking, "查一下 CRGR25 189…": no choice
            return [FollowupAction("action_start_manage")]
        chosen = chosen_item_id(tracker)
        entry = get_index().kb.by_id(chosen or "")
        if chosen and entry is None and retired_name(chosen):  # a button of an item a newer version no longer holds
            say(dispatcher, gone(retired_name(chosen)))
            return [SlotSet("candidates", None)]
        if entry is None:
            entry = pick_candidate(tracker.latest_message.get("text") or "", tracker.get_slot("candidates") or [], earlier_message(tracker))
        if entry is None:
            candidates = [get_index().kb.by_id(i) for i in tracker.get_slot("candidates") or []]
            if not any(candidates) and get_index().resolve(tracker.latest_message.get("text") or "").entry is not None:
                # nothing was offered: "娃娃的出生医学证明第一次办要哪些东西" ("第一" is not a choice) is a question
                return answer_question(dispatcher, tracker)
            if any(candidates):
                say(dispatcher, choose([c for c in candidates if c], question_is_vague=True))
            else:
                say(dispatcher, unknown())
            return []
        # what the choice asks in words ("第二个，咋个申请": the overview and the steps), else what was asked before
        # ("第二个" after "残疾人补贴怎么申请": the overview and the steps, as the question itself would have been answered)
        asked = aspects_in(text) or how_asked(text)
        aspect = asked[0] if asked else tracker.get_slot("aspect") or "item"
        more = tuple(a for a in asked if a != aspect) if asked else also_asked(earlier_message(tracker), aspect)
        say(dispatcher, answer(entry, aspect, more))
        return [SlotSet("item", entry.id), SlotSet("aspect", aspect), SlotSet("candidates", None)]


class ActionFallbackSearch(Action):
    """Not sure what was meant: try the knowledge base; after two misses in a row, offer a person."""

    def name(self) -> str:
        return "action_fallback_search"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        turned = not_a_question(dispatcher, tracker, text)
        if turned is not None:
            return turned
        pinned = tell_pinned(dispatcher, text)
        if pinned is not None:
            return pinned
        resolution = get_index().resolve(text)
        # the intent classifier's best guess below the threshold still tells which aspect was likely asked
        aspect = asked_aspect(aspect_of(tracker.get_intent_of_latest_message(skip_fallback_intent=True)), text,
                              tracker.get_slot("aspect"))
        candidates = tracker.get_slot("candidates") or []
        picked = pick_candidate(text, candidates, earlier_message(tracker)) if candidates else None
        if resolution.kind != "none" or picked is not None or asks_of_current(tracker, text) or topic_entries(text):
            # the knowledge base has something for it: answered as the question it would be had the classifier read it
            # so ("问一下不动产登记": which of the two, not the one whose words fit best), in one place (respond)
            return respond(dispatcher, tracker, aspect)
        if says_thanks(text) and not asks_something(text):  # "好了，谢谢你，等我从海南回来给你们带椰子": done, as a goodbye
            return goodbye_then_rating(dispatcher)
        user_intents = [e.get("parse_data", {}).get("intent", {}).get("name") for e in tracker.events if e.get("event") == "user"]
        if user_intents[-2:] == ["nlu_fallback", "nlu_fallback"]:
            return await escalate(dispatcher, tracker, "fallback")  # two misses in a row: to a person, or a work order off duty
        services = current_or_none()
        if services is not None and services.appeals.recognise(text) is not None:
            not_found(dispatcher, text)
            return []
        dispatcher.utter_message(
            text="抱歉，我没太明白您的意思。您可以直接说想办的事情，比如“身份证丢了怎么补办”“开个体户要带什么材料”。",
        )
        return []
