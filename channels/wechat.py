"""WeChat official account: `GET/POST /channels/wechat` (XML; plaintext, compatible or safe mode) <-> InboundMessage/Reply.

WeChat waits 5 seconds for an answer and otherwise retries the same message (MsgId; events by
FromUserName+CreateTime) up to three times. So: answer passively when the assistant is done within
WECHAT_REPLY_BUDGET; otherwise answer `success` and send the reply later through the customer-service
message API. A retry that arrives while the first attempt is still running waits for that attempt
instead of starting another; the conversation service processes a repeated message id once (a retry that reaches
another app process waits there for the stored replies). With several app processes the bookkeeping that must be
shared is in bot/shared.py (Redis): a message answered `success` is marked there, so a retry reaching any process
answers `success` too and only one process sends the reply through the customer-service API; the access token is
kept there, fetched by one process at a time.
Text cannot show buttons: options are numbered, and a reply "1", "2" selects them.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from xml.parsers import expat

import requests
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import ClickEvent, SubscribeEvent, SubscribeScanEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException, WeChatClientException
from wechatpy.messages import BaseMessage, TextMessage, VoiceMessage
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

from bot.conversations.models import Conversation
from bot.delivery import ChannelUnavailable
from bot.messages import InboundMessage, Reply
from bot.security import printable
from bot.settings import Settings
from bot.shared import SharedState
from channels import options
from knowledge.service import get_index

if TYPE_CHECKING:
    from bot.conversations.service import ConversationService
    from bot.db import Database

logger = logging.getLogger(__name__)
router = APIRouter(tags=["wechat"])

CHANNEL = "wechat"
MAX_BODY_BYTES = 64 * 1024  # WeChat's messages are a few hundred bytes
MAX_XML_DEPTH = 8
MAX_MESSAGES = 3  # per answer: the customer-service API allows only a few messages per citizen message
PENDING_TTL = 60.0  # seconds an answered message id is remembered in memory (WeChat retries within ~15 s)

PLEASE_TEXT = "抱歉，我目前只能看懂文字消息。请用文字告诉我您想办的事情，例如“身份证丢了怎么补办”。"
VOICE_NOT_RECOGNISED = "抱歉，没能识别您的语音。请用文字告诉我您想办的事情，例如“开个体户要带什么材料”。"
UNKNOWN_MENU = "这个菜单暂时没有内容。您可以直接发文字告诉我想办的事情。"
SOMETHING_WRONG = "抱歉，系统出了点问题，请稍后再试，或拨打12345热线。"
UNDELIVERABLE = {45015, 43004, 40003, 45047}  # out of the 48-hour window, unsubscribed, bad OpenID, quota used up
CUT_NOTE = "……（内容较长，未能全部显示，请查看办事指南页面或拨打12345热线）"


class UnsafeXML(ValueError):
    """The body is not small, well-formed XML without a DTD or entities."""


def check_xml(data: bytes | str) -> str:
    """The XML as text, refusing DTDs and entity declarations (billion laughs, external entities) and deep nesting.

    Runs before wechatpy, whose parser (xmltodict over expat) would otherwise see the document."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_BODY_BYTES:
        raise UnsafeXML(f"{len(raw)} bytes")
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def refuse(*_args: object) -> NoReturn:
        raise UnsafeXML("DTD or entity declaration")

    def start(*_args: object) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise UnsafeXML("nested too deeply")

    def end(*_args: object) -> None:
        nonlocal depth
        depth -= 1

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(raw, True)
        return raw.decode("utf-8")
    except (expat.ExpatError, UnicodeDecodeError) as exc:
        raise UnsafeXML(str(exc)) from exc


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` UTF-8 bytes, cut between lines where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line.encode("utf-8")) > limit:  # one line longer than a message: cut it by characters
            cut = len(line.encode("utf-8")[:limit].decode("utf-8", "ignore"))
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode("utf-8")) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [c.strip("\n") for c in chunks if c.strip()]


def guide_link(reply: Reply, public_url: str) -> str | None:
    """The guide page of the item an answer is about (answers start with 【item name】)."""
    match = re.match(r"【(.+?)】", reply.text)
    if not (match and public_url):
        return None
    entry = get_index().kb.by_name(match.group(1))
    return f"{public_url.rstrip('/')}/guides/{entry.id}" if entry is not None and entry.detailed else None


def render(replies: list[Reply], public_url: str, limit: int) -> list[str]:
    """Replies as WeChat text messages: guide link, numbered options, split within the text limit."""
    with_options = max((i for i, r in enumerate(replies) if r.buttons), default=-1)
    parts = []
    for i, reply in enumerate(replies):
        text = reply.text.strip()
        link = guide_link(reply, public_url)
        if link:
            text += f"\n完整办事指南：{link}"
        if i == with_options:
            if options.listed_lines(reply):
                text = text.replace(options.TAP_WORDS, "请回复数字")
            else:
                text = text.replace(options.TAP_WORDS, "请回复数字选择")
                text += "\n\n回复数字继续：\n" + "\n".join(f"回复{n}：{b.title}" for n, b in enumerate(reply.buttons, 1))
        if text:
            parts.append(text.replace("]]>", "]] >"))  # never close the CDATA section of the reply XML
    chunks = split_text("\n\n".join(parts), limit)
    if len(chunks) > MAX_MESSAGES:
        room = limit - len(CUT_NOTE.encode("utf-8"))
        chunks = chunks[: MAX_MESSAGES - 1] + [split_text(chunks[MAX_MESSAGES - 1], room)[0] + CUT_NOTE]
    return chunks


class _Session(requests.Session):
    """requests with a default timeout (wechatpy fetches the access token without one)."""

    def __init__(self, timeout: float):
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


class WeChatAPI(WeChatClient):  # type: ignore[misc]  # wechatpy has no type information
    """wechatpy's client on a configurable API base URL; the access token is cached until shortly before it
    expires and fetched again when WeChat says it is invalid or expired (40001, 40014, 42001)."""

    def __init__(self, app_id: str, secret: str, api_base: str, timeout: float = 5.0, shared: SharedState | None = None):
        shared = shared or SharedState()
        super().__init__(app_id, secret, timeout=timeout, session=shared.token_storage())
        self.API_BASE_URL = api_base.rstrip("/") + "/"
        self._http = _Session(timeout)
        self._token_lock = shared.token_lock(f"wechat-token:{app_id}")

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )

    @property
    def access_token(self) -> str:
        with self._token_lock:  # one fetch at a time: a new token invalidates the old one
            token: str = super().access_token
            return token


@dataclass
class Pending:
    """One WeChat message being answered, shared by WeChat's retries of it."""

    task: asyncio.Task[list[str]]
    deferred: bool = False  # answered `success`: the customer-service API delivers the reply
    rest_sent: bool = False  # the chunks after the passive one have been scheduled


def _raw_type(message: BaseMessage) -> str:
    """MsgType as sent (wechatpy parses unknown events and unknown message types alike to UnknownMessage)."""
    return str(getattr(message, "_data", {}).get("MsgType", "")).lower()


def masked(openid: str) -> str:
    return (openid or "")[:6] + "***"


class WeChatChannel:
    def __init__(self, settings: Settings, database: Database, shared: SharedState | None = None):
        self.settings, self.database = settings, database
        self.shared = shared or SharedState()
        self.token = settings.wechat_token.get_secret_value()
        key = settings.wechat_encoding_aes_key.get_secret_value()
        self.crypto = WeChatCrypto(self.token, key, settings.wechat_app_id) if key else None
        self.api = WeChatAPI(settings.wechat_app_id, settings.wechat_app_secret.get_secret_value(), settings.wechat_api_base,
                             shared=self.shared)
        self.pending: dict[tuple[str, str], Pending] = {}
        self._background: set[asyncio.Task[None]] = set()

    def signed(self, signature: str, timestamp: str, nonce: str) -> bool:
        try:
            check_signature(self.token, signature, timestamp, nonce)
            return True
        except InvalidSignatureException:
            return False

    # --- protocol -> InboundMessage -------------------------------------------------------------

    @staticmethod
    def client_id(message: BaseMessage) -> str:
        """MsgId for messages; for events (no MsgId) FromUserName+CreateTime, with the event and its key so that
        two different clicks in the same second stay two (a retry repeats all four)."""
        if message.id:
            return str(message.id)
        event = f"{message.source}|{message.time}|{getattr(message, 'event', '')}|{getattr(message, 'key', '')}"
        return f"ev{message.time}-" + hashlib.sha1(event.encode("utf-8")).hexdigest()[:24]

    async def inbound(self, service: ConversationService, message: BaseMessage) -> InboundMessage | Reply | None:
        """The message for the assistant, a direct reply (nothing for the assistant), or None (answer `success`)."""
        openid = message.source
        if isinstance(message, (TextMessage, VoiceMessage)):
            text = message.content if isinstance(message, TextMessage) else message.recognition
            if not (text or "").strip():
                return Reply(text=VOICE_NOT_RECOGNISED if isinstance(message, VoiceMessage) else PLEASE_TEXT)
            chosen = options.select(await service.offered_buttons(CHANNEL, openid), text) if options.number(text) else None
            return InboundMessage(channel=CHANNEL, sender=openid, text=chosen or text, client_id=self.client_id(message))
        if isinstance(message, (SubscribeEvent, SubscribeScanEvent)):
            return InboundMessage(channel=CHANNEL, sender=openid, text="/greet", client_id=self.client_id(message))
        if isinstance(message, ClickEvent):
            payload = self.settings.wechat_menu.get(message.key or "")
            if payload is None:
                logger.warning("wechat: menu key %r is not in WECHAT_MENU", message.key)
                return Reply(text=UNKNOWN_MENU)
            return InboundMessage(channel=CHANNEL, sender=openid, text=payload, client_id=self.client_id(message))
        if message.type == "event" or _raw_type(message) == "event":
            return None  # unsubscribe, menu links, location reports, template results, new events: nothing to say
        return Reply(text=PLEASE_TEXT)

    async def answer(self, service: ConversationService, message: BaseMessage) -> list[str]:
        """The reply chunks for one message (runs once per message, whatever WeChat retries)."""
        inbound = await self.inbound(service, message)
        if inbound is None:
            return []
        if isinstance(inbound, Reply):
            replies = [inbound]
        else:
            _conversation_id, replies = await service.handle(inbound)
        return render(replies, self.settings.public_url, self.settings.wechat_text_limit)

    # --- within 5 seconds, or later -------------------------------------------------------------

    async def respond(self, service: ConversationService, message: BaseMessage, deadline: float) -> tuple[str | None, list[str]]:
        """(passive reply or None for `success`, chunks to send through the customer-service API right after)."""
        key = (message.source, self.client_id(message))
        deferred_mark = f"wechat-deferred:{key[0]}:{key[1]}"
        pending = self.pending.get(key)
        if pending is None:
            if await self.shared.marks.get(deferred_mark) is not None:
                return None, []  # another process answered `success`; it sends the reply through the API
            pending = Pending(asyncio.create_task(self.answer(service, message)))
            self.pending[key] = pending
            loop = asyncio.get_running_loop()
            pending.task.add_done_callback(lambda _t: loop.call_later(PENDING_TTL, self.pending.pop, key, None))
        elif pending.deferred:
            return None, []  # a retry after `success`: the customer-service API delivers the reply
        try:
            chunks = await asyncio.wait_for(asyncio.shield(pending.task), max(deadline - time.monotonic(), 0.0))
        except asyncio.TimeoutError:
            if not pending.deferred:
                pending.deferred = True
                if await self.shared.marks.put_new(deferred_mark, self.shared.process_id, PENDING_TTL):  # one sender
                    logger.info("wechat: answer for %s not ready in time; sending it later", masked(message.source))
                    self._spawn(self._send_when_done(message.source, pending.task))
            return None, []
        except Exception:
            logger.exception("wechat: answering %s failed", masked(message.source))
            return SOMETHING_WRONG, []
        if pending.deferred or not chunks:
            return None, []
        rest = [] if pending.rest_sent else chunks[1:]
        pending.rest_sent = True
        return chunks[0], rest

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_when_done(self, openid: str, task: asyncio.Task[list[str]]) -> None:
        try:
            chunks = await task
        except Exception:
            logger.exception("wechat: answering %s failed", masked(openid))
            chunks = [SOMETHING_WRONG]
        await self.send(openid, chunks)

    async def send(self, openid: str, chunks: list[str]) -> None:
        """Send text messages through the customer-service API (48 hours after the citizen's last message)."""
        for chunk in chunks:
            try:
                await run_in_threadpool(self.api.message.send_text, openid, chunk)
            except WeChatClientException as exc:
                logger.error("wechat: customer-service message to %s failed: %s %s", masked(openid), exc.errcode, exc.errmsg)
                return
            except requests.RequestException as exc:
                logger.error("wechat: customer-service API unreachable (%s): %r", self.api.API_BASE_URL, exc)
                return

    def _openid_of(self, conversation_id: str) -> str | None:
        with self.database.session() as session:
            conversation = session.get(Conversation, conversation_id)
            return conversation.sender if conversation is not None and conversation.channel == CHANNEL else None

    async def deliver(self, conversation_id: str, reply: Reply) -> None:
        """The channel's outlet (bot/delivery.py): a reply nobody asked for just now (operator, reminder) as
        customer-service messages. ChannelUnavailable when WeChat will not deliver (48-hour window closed,
        unsubscribed); other errors may be retried."""
        openid = await run_in_threadpool(self._openid_of, conversation_id)
        if openid is None:
            raise ChannelUnavailable(f"no WeChat conversation {conversation_id}")
        for chunk in render([reply], self.settings.public_url, self.settings.wechat_text_limit):
            try:
                await run_in_threadpool(self.api.message.send_text, openid, chunk)
            except WeChatClientException as exc:
                if exc.errcode in UNDELIVERABLE:
                    raise ChannelUnavailable(f"WeChat error {exc.errcode}: {exc.errmsg}") from exc
                raise


# --- HTTP ---------------------------------------------------------------------------------------

def _channel(request: Request) -> WeChatChannel:
    channel: WeChatChannel = request.app.state.wechat
    return channel


def _forged(request: Request) -> HTTPException:
    """Logged without the body: it is not trusted and may carry a citizen's data."""
    client = request.client.host if request.client else "?"
    logger.warning("wechat: forged or missing signature on %s %s from %s", request.method, request.url.path, client)
    return HTTPException(status_code=403, detail="invalid signature")


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail="body too large")
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail="body too large")
    return body


@router.get("/channels/wechat", response_class=PlainTextResponse)
async def verify(request: Request, signature: str = "", timestamp: str = "", nonce: str = "", echostr: str = "") -> str:
    """WeChat's server check: echo `echostr` when the signature over token, timestamp and nonce is right."""
    if not _channel(request).signed(signature, timestamp, nonce):
        raise _forged(request)
    return echostr


def decrypt(crypto: WeChatCrypto, xml: str, signature: str, timestamp: str, nonce: str) -> str:
    """The decrypted message; InvalidSignatureException for a wrong msg_signature, UnsafeXML for anything that does not
    decrypt (empty or non-base64 `Encrypt`, bad padding: wechatpy raises whatever its decoding hits)."""
    try:
        decrypted: str = crypto.decrypt_message(xml, signature, timestamp, nonce)
        return decrypted
    except (InvalidSignatureException, InvalidAppIdException):
        raise
    except Exception as exc:  # noqa: BLE001 - IndexError, struct.error, binascii.Error, UnicodeDecodeError ...
        raise UnsafeXML(f"cannot decrypt ({type(exc).__name__})") from None


@router.post("/channels/wechat")
async def receive(request: Request) -> Response:
    """One message or event from WeChat; the answer is a passive reply, or `success` and a message later."""
    deadline = time.monotonic() + request.app.state.settings.wechat_reply_budget
    channel = _channel(request)
    query = request.query_params
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not channel.signed(query.get("signature", ""), timestamp, nonce):
        raise _forged(request)
    body = await _read_body(request)
    encrypted = query.get("encrypt_type", "raw") == "aes"
    try:
        xml = check_xml(body)
        if encrypted:
            if channel.crypto is None:
                raise HTTPException(status_code=400, detail="encrypted message but WECHAT_ENCODING_AES_KEY is not set")
            xml = check_xml(decrypt(channel.crypto, xml, query.get("msg_signature", ""), timestamp, nonce))
        elif channel.settings.wechat_mode == "safe":
            raise HTTPException(status_code=400, detail="safe mode: only encrypted messages are accepted")
        message = parse_message(xml)
        if message is None or not message.source:
            raise UnsafeXML("not a WeChat message")
    except InvalidSignatureException:
        raise _forged(request) from None
    except (UnsafeXML, InvalidAppIdException, KeyError, TypeError, ValueError) as exc:
        logger.warning("wechat: refused a %d-byte body: %s", len(body), type(exc).__name__ if not isinstance(exc, UnsafeXML) else exc)
        raise HTTPException(status_code=400, detail="malformed or unsafe XML") from None
    logger.info("wechat: %s from %s", message.type if message.type != "event" else f"event {message.event}", masked(message.source))
    text, rest = await channel.respond(request.app.state.conversations, message, deadline)
    if text is None:
        return PlainTextResponse("success")
    reply = create_reply(printable(text), message, render=True)
    if encrypted:
        assert channel.crypto is not None  # an encrypted message without the key was refused above
        reply = channel.crypto.encrypt_message(reply, nonce, timestamp)
    background = BackgroundTask(channel.send, message.source, rest) if rest else None
    return Response(reply, media_type="application/xml", background=background)
