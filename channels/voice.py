"""Phone calls through Twilio Programmable Voice: `POST /channels/voice` and its action URLs <-> InboundMessage/Reply.

  /channels/voice           the call starts: a Mandarin greeting inside <Gather input="speech dtmf">
  /channels/voice/gather    SpeechResult or Digits -> the assistant -> its reply, spoken for the ear, in the next <Gather>
  /channels/voice/confirm   after low speech confidence: "您是问…吗?"; 1 / 是 answers, 2 / 不是 asks again
  /channels/voice/silence   no input: reprompt, then the key menu twice, then transfer
  /channels/voice/dialled   after the transfer: goodbye, or an apology when no operator answered

The caller is transferred (<Dial> the operator line, or <Enqueue>) on 转人工, key 0, a reply with
action "handoff", or when the assistant is slow or down: Twilio waits 15 s for each answer. Every request
must carry a valid X-Twilio-Signature for the public URL (PUBLIC_URL behind a reverse proxy).
"""
from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Enqueue, Gather, VoiceResponse

from bot.conversations.service import ConversationService, rasa_down_reply
from bot.messages import Button, InboundMessage, Reply
from bot.privacy import mask
from bot.security import printable
from bot.settings import Settings
from channels import options
from knowledge.county import county
from knowledge.service import get_index

logger = logging.getLogger(__name__)
router = APIRouter(tags=["voice"])

CHANNEL = "voice"
MAX_BODY_BYTES = 64 * 1024
MAX_HINTS = 500  # Twilio accepts up to 500 hint phrases
PERSON = re.compile(r"转人工|人工服务|人工客服|接人工|找人工|要人工|人工坐席")
YES = re.compile(r"^(是|是的|是啊|对|对的|对啊|嗯|嗯嗯|没错|好|好的|确认)[。！!，,.？?]*$")
NO = re.compile(r"^(不是|不对|错了|不|没有|不要)")
HANDOFF_PAYLOAD = "/request_human"
MENU = [Button(title="查询办事指南", payload=""), Button(title="预约办理", payload="/book_appointment")]

ASK_ITEM = "请直接说出您想办的事情，比如“身份证丢了怎么补办”“开个体户要带什么材料”。"
NEXT = "还有其他问题请直接说，转人工请按0。"
STILL_THERE = "您还在吗？" + ASK_ITEM + "转人工请按0。"
NO_SUCH_OPTION = "抱歉，没有这个选项。"
TRANSFERRING = "好的，正在为您转接人工客服，请稍候。"
SLOW = "抱歉，智能助手暂时无法回答您的问题。正在为您转接人工客服，请稍候。"
SILENT_TRANSFER = "没有听到您的声音，现在为您转接人工客服，请稍候。"
AGAIN = "好的，请您再说一遍想办的事情，说得慢一点会更准确。"


# --- speech for the ear ---------------------------------------------------------------------------

_CN = "零一二三四五六七八九"
_URL = re.compile(r"https?://[^\s，。；、）)】]+")
_LIST_LINE = re.compile(r"^\s*(\d{1,2})[.、．]\s*")
_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_CLOCK = r"(\d{1,2}):(\d{2})"
_CLOCK_RANGE = re.compile(_CLOCK + r"\s*[-~—–至到]\s*" + _CLOCK)
_CLOCK_ONE = re.compile(_CLOCK)
_PHONE = re.compile(r"(?<![\d.])(0\d{2,3}-\d{7,8}|0\d{9,11}|1[3-9]\d{9}|\d{5}(?=热线)|12345)(?!\d)")
_END = "。！？；，：,.!?;:"


def ordinal(n: int) -> str:
    tens, ones = divmod(n, 10)
    words = (("" if tens == 1 else _CN[tens]) + "十" if tens else "") + (_CN[ones] if ones or not tens else "")
    return "第" + words


def _clock(hour: str, minute: str) -> str:
    return f"{int(hour)}点" + (f"{int(minute)}分" if int(minute) else "")


def _digits(number: str) -> str:
    return "".join("幺" if d == "1" else _CN[int(d)] for d in number if d.isdigit())


def spoken(text: str, max_chars: int = 0) -> str:
    """A written reply as a sentence for the ear: no URLs, lists as 第一…第二…, dates, times and phone numbers
    the way people say them; cut at a sentence end when longer than max_chars."""
    removed_url = bool(_URL.search(text))
    text = re.sub(r"[：:]?[ \t]*[（(]?[ \t]*\x00[ \t]*[）)]?", "", _URL.sub("\x00", text))  # "入口：URL", "网（URL）"
    text = re.sub(r"【(.+?)】", r"\1，", text)
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _LIST_LINE.match(line)
        if match:
            line = f"{ordinal(int(match.group(1)))}，{line[match.end():]}"
        lines.append(line if line[-1] in _END else line + "。")
    text = "".join(lines)
    text = _DATE.sub(lambda m: f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日", text)
    text = _CLOCK_RANGE.sub(lambda m: f"{_clock(m.group(1), m.group(2))}到{_clock(m.group(3), m.group(4))}", text)
    text = _CLOCK_ONE.sub(lambda m: _clock(m.group(1), m.group(2)), text)
    text = _PHONE.sub(lambda m: _digits(m.group(1)), text)
    text = re.sub(r"元/", "元每", text)
    text = re.sub(r"[，,]\s*。", "。", text)
    text = re.sub(r"。+", "。", text)
    if removed_url and county()["网上办事大厅"] not in text:
        text += f"网址可以在{county()['网上办事大厅']}查到。"
    if max_chars and len(text) > max_chars:
        cut = text.rfind("。", 0, max_chars)
        text = text[: cut + 1 if cut > 0 else max_chars] + "内容比较多，我先说到这里。"
    return text


_SLOT = re.compile(r"^(\d{1,2})月(\d{1,2})日（周(.)）(\d{2}):(\d{2})-(\d{2}):(\d{2})")
MAX_SPOKEN_SLOTS = 4  # time slots read out per prompt; others can be said ("周六下午三点")


def _hour_words(hour: int, minute: int) -> str:
    """9:30 → 九点半, 12:00 → 十二点, 13:30 → 一点半 (the part of day is said before)."""
    hour = hour - 12 if hour > 12 else hour
    words = ("十" + (_CN[hour - 10] if hour > 10 else "")) if hour >= 10 else _CN[hour]
    return words + "点" + ("半" if minute == 30 else (f"{minute}分" if minute else ""))


def _part_of_day(hour: int) -> str:
    return "上午" if hour < 12 else "中午" if hour < 14 else "下午" if hour < 18 else "晚上"


def spoken_slot(title: str, say_day: bool = True) -> str | None:
    """A slot button as people say it: "周六上午九点到九点半" (no brackets, no seat count), or None if not a slot."""
    match = _SLOT.match(title)
    if not match:
        return None
    _month, _day, weekday, h1, m1, h2, m2 = match.groups()
    start, end = (int(h1), int(m1)), (int(h2), int(m2))
    day = f"周{weekday}" if say_day else ""
    return f"{day}{_part_of_day(start[0])}{_hour_words(*start)}到{_hour_words(*end)}"


def options_prompt(buttons: list[Button]) -> str:
    """ "所需材料请按1，办理流程请按2，…转人工请按0。" (a "转人工" option is key 0 on the phone). Time slots are said the
    way people say them, the day once when they share it, at most MAX_SPOKEN_SLOTS of them."""
    choices = [b for b in buttons if b.payload != HANDOFF_PAYLOAD]
    slot_days = {m.group(1, 2, 3) for b in choices if (m := _SLOT.match(b.title))}
    slots = [b for b in choices if _SLOT.match(b.title)]
    lead, more = "您可以按键选择：", ""
    if slots and len(slot_days) == 1:
        month, day, weekday = next(iter(slot_days))
        lead = f"{int(month)}月{int(day)}日周{weekday}，"
    if len(slots) > MAX_SPOKEN_SLOTS:
        choices = [b for b in choices if b not in slots[MAX_SPOKEN_SLOTS:]]
        more = "其他时间可以直接说，例如周六上午十点。"
    keys = ""
    for n, b in enumerate(choices, 1):
        label = spoken_slot(b.title, say_day=len(slot_days) != 1) or b.title
        keys += f"{label}请按{n}，"
    return (lead if keys else "") + keys + more + "转人工请按0。"


def reply_speech(replies: list[Reply], max_chars: int) -> tuple[str, list[Button]]:
    """What to say for the assistant's replies, and the options the keys select."""
    buttons = options.offered(replies)
    parts = []
    for reply in replies:
        lines = re.sub(options.TAP_WORDS + "[：:]?", "", reply.text).splitlines()
        listed = options.listed_lines(reply) if reply.buttons else set()
        parts.append("\n".join(line for i, line in enumerate(lines) if i not in listed))
    text = spoken("\n".join(p for p in parts if p.strip()), max_chars)
    return text + (options_prompt(buttons) if buttons else NEXT), buttons


def hints() -> str:
    """Item names and aliases of the detailed guides, for speech recognition."""
    phrases: list[str] = []
    for entry in get_index().kb.guides:
        for phrase in [entry.name, *entry.aliases]:
            phrase = re.sub(r"[，,《》“”\"()（）]", " ", phrase).strip()
            if phrase and phrase not in phrases and len(phrase) <= 100:
                phrases.append(phrase)
    return ",".join(phrases[:MAX_HINTS])


# --- TwiML ---------------------------------------------------------------------------------------

class Calls:
    """TwiML for one request: URLs on the public address, the configured voice and transfer target."""

    def __init__(self, request: Request):
        self.request = request
        self.settings: Settings = request.app.state.settings

    def url(self, path: str, **query: str | int) -> str:
        base = self.settings.public_url.rstrip("/") or str(self.request.base_url).rstrip("/")
        return base + path + ("?" + urlencode(query) if query else "")

    def say(self, parent: VoiceResponse | Gather, text: str) -> None:
        parent.say(printable(text), voice=self.settings.voice_name, language=self.settings.voice_say_language)

    def gather(self, prompt: str, action: str = "/channels/voice/gather", silence: int = 1, **query: str) -> Response:
        """Say the prompt while listening for speech or a key; no input leads to /silence."""
        response = VoiceResponse()
        gather = Gather(
            input="speech dtmf", action=self.url(action, **query), method="POST",
            language=self.settings.voice_speech_language, hints=hints(),
            timeout=self.settings.voice_silence_timeout, speech_timeout="auto", num_digits=1,
        )
        self.say(gather, prompt)
        response.append(gather)
        response.redirect(self.url("/channels/voice/silence", n=silence), method="POST")
        return twiml(response)

    def transfer(self, lead: str = TRANSFERRING) -> Response:
        """Say so, then <Dial> the operator line (or <Enqueue> into the configured queue)."""
        response = VoiceResponse()
        self.say(response, lead)
        after = self.url("/channels/voice/dialled")
        if self.settings.voice_queue:
            response.append(Enqueue(self.settings.voice_queue, action=after, method="POST"))
        else:
            dial = Dial(action=after, method="POST", timeout=30)
            dial.number(self.settings.voice_operator_number)
            response.append(dial)
        return twiml(response)

    def goodbye(self, text: str) -> Response:
        response = VoiceResponse()
        self.say(response, text)
        response.hangup()
        return twiml(response)


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="application/xml")


# --- requests ------------------------------------------------------------------------------------

def signed_url(request: Request, settings: Settings) -> str:
    """The URL Twilio requested: on PUBLIC_URL when set (behind a proxy the app sees another host)."""
    if not settings.public_url:
        return str(request.url)
    query = request.url.query
    return settings.public_url.rstrip("/") + request.url.path + ("?" + query if query else "")


async def signed_form(request: Request) -> dict[str, str]:
    """Twilio's form fields, after checking X-Twilio-Signature; 403 (logged without the body) when wrong."""
    settings: Settings = request.app.state.settings
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail="body too large")
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not validator.validate(signed_url(request, settings), form, request.headers.get("X-Twilio-Signature", "")):
        client = request.client.host if request.client else "?"
        logger.warning("voice: invalid X-Twilio-Signature on %s from %s", request.url.path, client)
        raise HTTPException(status_code=403, detail="invalid signature")
    return form


_running: set[asyncio.Task[tuple[str, list[Reply]]]] = set()  # assistant calls that outlived their request; they still log their replies


async def ask(request: Request, call_sid: str, text: str) -> list[Reply] | None:
    """The assistant's replies within VOICE_ASSISTANT_TIMEOUT, or None when it is too slow or failed."""
    service: ConversationService = request.app.state.conversations
    task = asyncio.ensure_future(service.handle(InboundMessage(channel=CHANNEL, sender=call_sid, text=text)))
    try:
        _conversation_id, replies = await asyncio.wait_for(asyncio.shield(task), request.app.state.settings.voice_assistant_timeout)
        return replies
    except asyncio.TimeoutError:
        logger.error("voice: the assistant did not answer call %s in time; transferring", call_sid)
        _running.add(task)
        task.add_done_callback(_running.discard)
    except Exception:
        logger.exception("voice: the assistant failed on call %s; transferring", call_sid)
    return None


async def caller_pressed_0(request: Request, call_sid: str) -> None:
    """Key 0 transfers the call; the console's handoff records show it (reason "来电按0")."""
    try:
        await request.app.state.desk.record_call(CHANNEL, call_sid)
    except Exception:  # the transfer matters more than the record
        logger.exception("voice: could not record the transfer of call %s", call_sid)


async def answer(request: Request, call_sid: str, text: str, wants_person: bool = False) -> Response:
    calls = Calls(request)
    replies = await ask(request, call_sid, text)
    if replies is None or replies == [rasa_down_reply()]:
        return calls.transfer(SLOW)
    if wants_person or any(r.action == "handoff" for r in replies):
        return calls.transfer()
    prompt, _buttons = reply_speech(replies, calls.settings.voice_max_chars)
    return calls.gather(prompt)


async def heard(request: Request, form: dict[str, str]) -> Response:
    """Speech: transfer, confirm the item when recognition was unsure, or ask the assistant."""
    call_sid, speech = form.get("CallSid", ""), form.get("SpeechResult", "").strip()
    settings: Settings = request.app.state.settings
    try:
        confidence = float(form.get("Confidence") or 1.0)
    except ValueError:
        confidence = 1.0
    wants_person = bool(PERSON.search(speech))
    if confidence < settings.voice_min_confidence and not wants_person:
        entry = get_index().resolve(speech).entry
        if entry is not None:  # the resolution is an answer
            prompt = f"您是问{entry.name}吗？是请按1或说“是”，不是请按2或重新说一遍。"
            return Calls(request).gather(prompt, "/channels/voice/confirm", q=speech)
    return await answer(request, call_sid, speech, wants_person)


@router.post("/channels/voice")
async def incoming_call(request: Request) -> Response:
    """A call starts: greet in Mandarin and listen."""
    form = await signed_form(request)
    logger.info("voice: call %s from %s", form.get("CallSid", "?"), mask(form.get("From", "")))
    greeting = spoken(f"您好，这里是{county()['热线名称']}智能助手。") + ASK_ITEM + "转人工请按0。"
    return Calls(request).gather(greeting)


@router.post("/channels/voice/gather")
async def gathered(request: Request) -> Response:
    """The caller said something or pressed a key."""
    form = await signed_form(request)
    calls = Calls(request)
    call_sid, digits = form.get("CallSid", ""), form.get("Digits", "").strip()
    if digits == "0":
        await caller_pressed_0(request, call_sid)
        return calls.transfer()
    if digits:
        menu = request.query_params.get("menu") == "1"
        buttons = MENU if menu else await request.app.state.conversations.offered_buttons(CHANNEL, call_sid)
        payload = options.select(buttons, digits)
        if payload is None:
            prompt = NO_SUCH_OPTION + (options_prompt(buttons) if buttons else ASK_ITEM + "转人工请按0。")
            return calls.gather(prompt, menu="1") if menu else calls.gather(prompt)
        if payload == "":  # menu: look up a guide
            return calls.gather(ASK_ITEM)
        return await answer(request, call_sid, payload)
    if form.get("SpeechResult", "").strip():
        return await heard(request, form)
    return calls.gather(STILL_THERE, silence=2)  # an empty result counts as silence


@router.post("/channels/voice/confirm")
async def confirmed(request: Request) -> Response:
    """The answer to "您是问…吗?": yes answers the question as heard, no asks again, anything else is a new question."""
    form = await signed_form(request)
    calls = Calls(request)
    question = request.query_params.get("q", "")
    digits, speech = form.get("Digits", "").strip(), form.get("SpeechResult", "").strip()
    if digits == "0":
        await caller_pressed_0(request, form.get("CallSid", ""))
        return calls.transfer()
    if digits == "1" or (speech and YES.match(speech)):
        return await answer(request, form.get("CallSid", ""), question)
    if digits or (speech and NO.match(speech)):
        return calls.gather(AGAIN)
    if speech:
        return await heard(request, form)
    return calls.gather(STILL_THERE, silence=2)


@router.post("/channels/voice/silence")
async def silence(request: Request) -> Response:
    """No input: reprompt once, then offer the key menu; after two more silences, transfer."""
    await signed_form(request)
    calls = Calls(request)
    try:
        count = int(request.query_params.get("n", "1"))
    except ValueError:
        count = 1
    if count <= 1:
        return calls.gather(STILL_THERE, silence=2)
    if count <= 3:
        return calls.gather(options_prompt(MENU), silence=count + 1, menu="1")
    return calls.transfer(SILENT_TRANSFER)


@router.post("/channels/voice/dialled")
async def dialled(request: Request) -> Response:
    """After <Dial>/<Enqueue>: hang up after a conversation, apologise when nobody answered."""
    form = await signed_form(request)
    status = form.get("DialCallStatus") or form.get("QueueResult") or ""
    if status in ("completed", "answered", "bridged", "hangup"):
        return Calls(request).goodbye("感谢您的来电，再见。")
    logger.warning("voice: transfer of call %s ended with %s", form.get("CallSid", "?"), status or "no status")
    return Calls(request).goodbye(spoken(f"抱歉，人工客服现在都在忙，暂时无法接通。请稍后再拨打{county()['热线']}热线。感谢您的来电，再见。"))
