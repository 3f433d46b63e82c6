"""A second look at intents that take a turn away from answering (goodbye, complaint, asking for a person, booking,
changing or cancelling a booking). Rasa's classifier sometimes gives them to a citizen who describes a situation: "我下个月满六十，
办退休要拿些啥子东西去嘛" came out as book_appointment, a long story about a hospital bill as goodbye. Each of these
intents is said with its own words (再见, 投诉, 人工, 约 …); a message with none of them that is about an item of the
knowledge base is the service question it looks like, and the action answers it instead.

Every training example of these intents keeps its intent (tests/unit/test_service_question.py checks them all)."""
from __future__ import annotations

import re

from knowledge.answers import ASPECT_CUES, asks_how, asks_something, aspects_in
from knowledge.normalize import normalize, simplified
from knowledge.service import get_index

_SMALL_TALK = re.compile(r"喂+|你好|您好|在吗|在不在|有人吗|哈喽|早上好|下午好|晚上好|请问|打扰了|麻烦问一下|问一下|我想问")

# The words each intent is said with (traditional forms are simplified by normalize() first).
CUES = {
    "goodbye": r"再见|拜|(?<![\d\s])88(?![\d\s]*\d)|bye|挂了|先这样|就这样|没事了|没有了|没得|晚安|告辞|走了|回见|见|不聊|撤了|溜了|结束|退出|"
               r"有事再|后会|改天|回头|下次|下回|谢|感谢|忙了|晓得了|知道了|明白了|清楚了|好的|好嘞|行嘞|要得",
    # only the words that say a complaint whatever else the message asks; the loose ones are in WEAK_CUES
    "complain": r"投诉|举报|反映|建议|提.?意见|态度|不满|垃圾|气死|太气|骂|吼|刁难|为难|踢皮球|推来推去|扯皮|曝光|"
                r"没人接|没人管|没人处理|吃拿卡要|插队|玩手机|提前下班|不负责|什么服务|门难进|什么玩意",
    "request_human": r"人工|客服|真人|活人|转接|工作人员|接线员|话务员|坐席|机器|找个人|找人|个人来|换个人|说不清楚|懂的人",
    "book_appointment": r"约|订|号|时段|时间|延时|5\+x|上门|提前|排队|没空|上班|下班|周[一二三四五六日末]|星期|礼拜|"
                        r"今天|明天|后天|早上|上午|中午|午休|下午|傍晚|晚上|\d+[号日]|\d+月\d",
    "cancel_appointment": r"约|号|预约码|码是|码[:：\s]|取消|退|作废|撤销|不去了|去不了|去不成|来不了|改|挪|推迟|提前|查(一下|下|询)|"
                          r"哪天|几点|时间|上没|成功",
    "change_booking": r"约|号|预约码|码是|改到|改成|改期|挪|推迟|延后|提前|时间|上午|中午|下午|傍晚|晚上|(?<![多少差有好])[一二三四五六七八九十两\d]点|"
                      r"周[一二三四五六日末]|星期|礼拜|明天|后天|电话|手机|名字|姓名|\d{11}",
}
_CUES = {intent: re.compile(pattern) for intent, pattern in CUES.items()}
_FAREWELL = re.compile(r"再见|拜拜|bye|(?<![\d\s])88|晚安|回见|挂了")
_WANTS = re.compile(r"想|要|打算|准备|需要|问|咨询|了解|打听")  # "户口想从乐山市中区迁过来": a service wanted, not asked about
# Words that name a booking or a time to move it to; a long story asking a service's aspect without any of them
# ("老汉想把房子送给我，要去把房产证上的名字改成我的，要交好多费用"), read as changing or cancelling a booking, is a question
_MANAGE_SAID = re.compile(r"约|号|码|时间|时段|周[一二三四五六日末]|星期|礼拜|今天|明天|后天|上午|中午|下午|傍晚|晚上|\d{11}")
DETAIL_LENGTH = 12  # a complaint shorter than this, with no word of one, after an answer: a detail of the matter
STORY_LENGTH = 15  # a message this long (normalised) that asks how to get something done tells a story
# Words that say a complaint in a message that asks nothing of a service ("跑了三趟都没办好", "路灯坏了"), but are
# part of a situation when the citizen asks how to get something done ("家里条件差…要准备什么", "公章边边磨坏了，
# 要重新刻一个，需要准备哪些东西", "去马来西亚出差…现在去办来得及不").
WEAK_CUES = {"complain": re.compile(r"求助|帮帮忙|差|坏|破|拖|效率|回音|没消息|公务员|为民|跑了.{0,3}趟|排了.{0,6}队|白来|难办")}
# Asking how to get a service done: what to bring, how long, where, how, whether one can. A complaint, a plea or a
# goodbye does not ask this; the classifier gives long situations to them all the same.
_HOW_TO = re.compile("|".join(cue.pattern for cue in ASPECT_CUES.values()) + r"|(咋个?|怎么|怎样|如何)(办|弄|申请|整|搞|交|登记|报|领|提取|补|换|开)|"
                     r"(政府|国家|民政).{0,8}(帮|扶|救|补)|"  # "政府能不能给点应急的帮扶": help asked for
                     r"(要|该|能)办(些|点)?(啥|什么|哪)|(啥|什么|哪些)手续|来得及|(能不能|可不可以|可以|能)(办|领|申请|享受)|有没有.{0,6}(政策|补贴|补助|救助)|"
                     r"(要|该)(先)?(去|找)哪|(办|领|申请).{0,6}(吗|不|没)[？?]?$")
# Words with 约 that name no booking: "跑网约车的", "大约要多久", "合同约定".
# A question whether one must book ("要先预约吗", "需要提前预约还是直接去") asks about the service, not for a booking.
NOT_BOOKING = re.compile(r"网约车|大约|约定|约束|约莫|节约|(要|需要|用|得)(先|提前)?预约(吗|不)|要不要(先|提前)?预约|"
                          r"(需|用|要)不(需|用|要)(先|提前)?预约|(先|提前)?预约还是")
# Leaving or escalating on a message that says neither is never right: a plausible item (even several to choose
# from) is enough. A booking can be asked for in many ways, so it is kept unless one item is clearly meant.
_ENOUGH = {"goodbye": ("answer", "choose"), "complain": ("answer", "choose"), "request_human": ("answer", "choose"),
           "book_appointment": ("answer",), "change_booking": ("answer",), "cancel_appointment": ("answer",)}


def asks_about_a_service(text: str, kinds: tuple[str, ...] = ("answer",)) -> bool:
    """More than small talk: the rest of the message resolves to an item of the knowledge base (or, with "choose"
    among `kinds`, to a few plausible ones), or staff pinned an answer to it."""
    rest = _SMALL_TALK.sub("", normalize(text))
    return len(rest) >= 4 and (get_index().resolve(text).kind in kinds or get_index().kb.pinned.match(text) is not None)


def a_question_not_a_goodbye(text: str) -> bool:
    """"我的驾照六年有效期快到了，要换新的，去哪里换，要不要先体检？" read as a goodbye: no word of one, and a question
    (answered, or told it is not known with the way onward, never a farewell)."""
    said = normalize(text) + " " + simplified(text)
    return not text.startswith("/") and not _CUES["goodbye"].search(said) and asks_something(text)


def a_detail_not_a_complaint(intent: str | None, text: str, in_dialogue: bool) -> bool:
    """"长期的那种 每个月都有的" right after an answer or options, read as a complaint: a short detail of what the
    conversation is about, with no word of a complaint (not "态度太差了", "跑了三趟都没办好")."""
    said = simplified(text)
    return intent == "complain" and in_dialogue and not text.startswith("/") and len(normalize(text)) <= DETAIL_LENGTH \
        and not _CUES["complain"].search(said) and not WEAK_CUES["complain"].search(said)


def more_than_a_greeting(text: str) -> bool:
    """"请问残疾人正怎么新办": a greeting's words, and a question how or of an aspect (answered, or told it is not known
    with the way onward, rather than greeted); not "在吗？有个事想咨询下"."""
    return len(_SMALL_TALK.sub("", normalize(text))) >= 4 and bool(asks_how(text) or aspects_in(text))


def is_service_question(intent: str | None, text: str) -> bool:
    """Whether a message given `intent` is really a question about a service (see the module docstring)."""
    if intent not in _CUES or not text or text.startswith("/") or says_nothing_more(text):
        return False  # ("好 莫得其他的了": nothing more asked, whatever it was read as)
    stripped = NOT_BOOKING.sub("", simplified(text).lower())  # before normalize() drops the 吗 of "要先预约吗"
    said = normalize(stripped) + " " + stripped
    asks_how = bool(_HOW_TO.search(normalize(text)))
    # "我爸上个月走了，他名下有套房子，要转到我妈名下，咋个办": a goodbye's word in a story that asks how, no farewell
    told_in_passing = intent == "goodbye" and asks_how and len(normalize(text)) >= STORY_LENGTH and not _FAREWELL.search(said)
    if intent in ("cancel_appointment", "change_booking") and asks_how and len(normalize(text)) >= STORY_LENGTH \
            and not _MANAGE_SAID.search(stripped):
        told_in_passing = True  # "…把房产证上的名字改成我的，要交好多费用": 改 of a name, not of a booking
    if _CUES[intent].search(said) and not told_in_passing or intent == "complain" and _CUES["request_human"].search(said):
        return False  # (a "complaint" that asks for the staff, "有没有工作人员 我直接问", is handed to a person)
    if intent == "complain" and len(normalize(text)) >= STORY_LENGTH and not asks_something(text) and not _WANTS.search(text):
        return False  # "停水停了两天了，也没得通知，屋头老人娃儿都不方便": nothing asked or wanted, the complaint it was read as
    weak = intent in WEAK_CUES and bool(WEAK_CUES[intent].search(said))
    if weak and not asks_how:
        return False
    if intent in ("complain", "goodbye", "book_appointment") and asks_how and not weak:  # a situation told to ask what to
        return True  # do ("再问个，公积金咋个提取", "我要出国去打工，要办些啥子": no word of booking): the guides answer it, or
        # say they can't and offer the way onward
    return asks_about_a_service(text, _ENOUGH[intent])


# "好的没了", "没得了", "就这些 谢谢": nothing more to ask (read as yes, no or not understood), the conversation is done
_NOTHING_MORE = re.compile(
    r"^(?:(?:好的?|行|嗯+|要得|ok|OK|(?:晓得|知道|明白|改好|弄好|搞定|约好)了?|谢谢(?:你们|[你您])?)[哈啊嘛呀了]?[，,。 ]*)*"
    r"(?:[没莫](?:得|有)?(?:了|啦)|[没莫](?:得|有)?(?:(?:其他|别的|啥子|什么)(?:事|的|问题|要问的)?|事)了?|就这些了?|就这样了?|暂时没有了?)"
    r"(?:[，,。！! ]*(?:谢谢(?:你们|[你您])?[哈啊呀了]?|再见|拜拜|就这样了?|就这些了?)[。！!]*)*[，,。！! ]*$")


# a thanks in any of its everyday forms: one pattern for the closings of the guides, the booking form and the appeal intake
THANKS_WORD = r"谢谢|感谢|多谢|谢了|谢啦"


def says_thanks(text: str) -> bool:
    return bool(re.search(THANKS_WORD, text or ""))


# "好的，晓得了，谢谢", "好，谢了哈", "好了，多谢你": understood or ok, and thanks: nothing more to ask either (a thanks
# alone is the classifier's)
# ("好的，我先去准备材料，谢谢": what the citizen goes to do now, told, not asked)
_UNDERSTOOD_THANKS = re.compile(r"^(?:(?:好的?|好了|行|嗯+|要得|ok|OK|(?:晓得|知道|明白|清楚)了?|"
                                r"(?:那我|我)(?:就|先|这就|马上|回头|明天|今天|改天)*(?:去|回去|过去)[^，,。？?！!\s吗呢么嘛啥什哪几咋怎多]{1,8})"
                                r"[哈啊嘛了呀]?[，,。 ]*)+"
                                rf"(?:{THANKS_WORD})(?:你们|[你您]|了|啦)*[哈啊呀了嘛]?[。！! ]*$")


def says_nothing_more(text: str) -> bool:
    return bool(_NOTHING_MORE.match(text.strip()) or _UNDERSTOOD_THANKS.match(text.strip()))
