"""Web chat: the citizen's chat page, the embeddable widget, and their transport.

- `POST /api/chat` {"sender", "text"} → {"replies": [...]}: the open JSON API (tests, benchmark).
- `GET /` the chat page (`?embed=1` inside the widget, `?transport=http` forces the HTTP fallback),
  `GET /widget.js` the one-line embed for county websites.
- `POST /api/webchat/session` starts a conversation and returns its id with a signed token.
- `WS /ws/chat` the live transport; `GET|POST /api/webchat/conversations/{id}/messages` the HTTP
  fallback. Both need the token, carry client message ids (retries are processed once) and send
  "every message after id N", so a reconnecting page gets what it missed, including pushed messages.

WebSocket protocol (JSON text frames):
  client → {"type": "hello", "conversation_id", "token", "after": last message id seen}
  server → {"type": "messages", "messages": [...]} (what the client missed) then {"type": "ready"}
  client → {"type": "message", "client_id", "text"}      server → {"type": "typing", "on": true|false}
  client → {"type": "ping"}                              server → {"type": "pong"}
  server → {"type": "messages", ...} whenever the conversation has new messages (replies, pushes)
  server → {"type": "error", "code", "message", ["retry_after", "client_id"]}; a refused token closes
  the socket with code 4401 (invalid or expired) or 4403 (another conversation).
Rendering lives in the browser (static/webchat/chat.js): text is inserted as text, URLs become links,
numbered lines become lists. Rate limits are in process memory, or in Redis when scaled out (bot/shared.py).
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from bot import push as push_hub
from bot.conversations.models import Conversation
from bot.conversations.service import ConversationService, get_or_create_conversation
from bot.messages import Button, InboundMessage, Reply
from bot.ratelimit import wait_seconds
from bot.security import MAX_ID, loads_bounded
from bot.shared import SharedState
from channels.webchat_tokens import ConversationTokens, TokenError
from knowledge.service import get_index

if TYPE_CHECKING:
    from bot.db import Database
    from bot.settings import Settings

router = APIRouter(tags=["chat"])
logger = logging.getLogger(__name__)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sender: str = Field(..., min_length=1, max_length=128, description="会话发起方的标识")
    text: str = Field(..., max_length=20000, description="用户消息（超过 500 字会得到提示）")
    client_id: str | None = Field(None, max_length=64, description="客户端消息编号，重试时保持不变以免重复处理")


class ChatResponse(BaseModel):
    conversation_id: str
    replies: list[Reply]


@router.post("/api/chat", response_model=ChatResponse)
async def chat(body: ChatRequest, request: Request) -> ChatResponse | JSONResponse:
    """Send a citizen's message to the assistant and get its replies."""
    service: ConversationService = request.app.state.conversations
    conversation_id, replies = await service.handle(
        InboundMessage(channel="web", sender=body.sender, text=body.text, client_id=body.client_id)
    )
    if any(r.action == "busy" for r in replies):  # overload: the reply says so; the status lets clients retry later
        return JSONResponse(ChatResponse(conversation_id=conversation_id, replies=replies).model_dump(), status_code=503,
                            headers={"Retry-After": str(BUSY_RETRY_SECONDS)})
    return ChatResponse(conversation_id=conversation_id, replies=replies)


# --- the browser chat ------------------------------------------------------------------------------

BUSY_RETRY_SECONDS = 5
CHANNEL = "webchat"  # conversations of the signed browser chat (the open /api/chat above uses "web")
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static" / "webchat"
STATIC_FILES = {"chat.js": "text/javascript", "chat.css": "text/css", "site.css": "text/css", "widget.js": "text/javascript"}
templates = Jinja2Templates(directory=str(HERE / "templates"))

HELLO_TIMEOUT = 15.0  # seconds a new socket has to say hello
IDLE_TIMEOUT = 90.0  # seconds without any frame (the page pings every 20 s) before the server closes
BATCH = 200
CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_FRAME_CHARS = 25000
SOCKET_CLOSE = {401: 4401, 403: 4403, 404: 4404}

UNKNOWN_CONVERSATION = "没有找到这次对话的记录，请开始新的对话。"
BAD_REQUEST = "消息格式不正确，请刷新页面后重试。"
HELLO_FIRST = "连接还没有完成身份确认，请刷新页面后重试。"


class Refusal(Exception):
    """A request the web chat refuses; `message` is shown to the citizen."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        headers = {}
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
            headers["Retry-After"] = str(self.retry_after)
        return JSONResponse(body, status_code=self.status, headers=headers)

    def frame(self, client_id: str | None = None) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.retry_after is not None:
            frame["retry_after"] = self.retry_after
        if client_id:
            frame["client_id"] = client_id
        return frame


@dataclass(frozen=True)
class ConversationRef:
    id: str
    sender: str


class WebChat:
    """The web chat's per-app state: token signer, rate limits, one-at-a-time processing per conversation."""

    def __init__(self, settings: Settings, database: Database, conversations: ConversationService, hub: push_hub.PushHub, shared: SharedState | None = None):
        self.database, self.conversations, self.hub = database, conversations, hub
        shared = shared or SharedState()  # rate limits in this process unless shared (Redis)
        self.tokens = ConversationTokens(settings.secret_key.get_secret_value(), settings.webchat_token_days * 86400,
                                         settings.secret_key_previous.get_secret_value(), settings.secret_key_previous_until)
        window = settings.webchat_rate_window
        self.per_conversation = shared.limiter("webchat-conversation", settings.webchat_messages_per_conversation, window)
        self.per_ip = shared.limiter("webchat-ip", settings.webchat_messages_per_ip, window)
        self.new_sessions = shared.limiter("webchat-new", settings.webchat_sessions_per_ip, window)
        self.push_api_key = settings.push_api_key.get_secret_value()
        self.frame_ancestors = settings.webchat_frame_ancestors
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task[None]] = set()

    # conversations ---------------------------------------------------------------------------------
    def _create(self) -> str:
        with self.database.session() as session:
            return get_or_create_conversation(db_session=session, channel=CHANNEL, sender=uuid.uuid4().hex).id

    def _find(self, conversation_id: str) -> ConversationRef | None:
        with self.database.session() as session:
            found = session.get(Conversation, conversation_id)
            return ConversationRef(found.id, found.sender) if found is not None and found.channel == CHANNEL else None

    async def start(self, ip: str) -> tuple[str, str]:
        wait = await self.new_sessions.hit(ip)
        if wait:
            raise Refusal(429, "rate_limited", f"新建对话太频繁了，请稍等{wait_seconds(wait)}秒再试。", wait_seconds(wait))
        conversation_id = await run_in_threadpool(self._create)
        return conversation_id, self.tokens.issue(conversation_id)

    async def authorize(self, conversation_id: str, token: str | None) -> ConversationRef:
        """The conversation if the token is genuine and names it; otherwise Refusal (401/403/404)."""
        try:
            self.tokens.verify(token, conversation_id)
        except TokenError as exc:
            raise Refusal(exc.status, exc.code, exc.message) from exc
        found = await run_in_threadpool(self._find, conversation_id)
        if found is None:
            raise Refusal(404, "unknown_conversation", UNKNOWN_CONVERSATION)
        return found

    # messages --------------------------------------------------------------------------------------
    async def check_rate(self, conversation_id: str, ip: str) -> None:
        wait = await self.per_conversation.hit(conversation_id)
        if wait:
            seconds = wait_seconds(wait)
            raise Refusal(429, "rate_limited", f"您发送得有点快，请稍等{seconds}秒，消息会自动发出。", seconds)
        wait = await self.per_ip.hit(ip)
        if wait:
            seconds = wait_seconds(wait)
            raise Refusal(429, "rate_limited", f"当前网络发来的消息太多了，请稍等{seconds}秒，消息会自动发出。急事请拨打12345热线。", seconds)

    async def process(self, conversation: ConversationRef, client_id: str, text: str) -> None:
        """Hand the message to the conversation service (one at a time per conversation), then tell listeners."""
        lock = self._locks.get(conversation.id)
        if lock is None:
            lock = self._locks[conversation.id] = asyncio.Lock()
        async with lock:
            await self.conversations.handle(InboundMessage(channel=CHANNEL, sender=conversation.sender, text=text, client_id=client_id))
        await self.hub.notify(conversation.id)

    def process_in_background(self, conversation: ConversationRef, client_id: str, text: str,
                              before: Callable[[], Awaitable[object]] | None = None,
                              after: Callable[[], Awaitable[object]] | None = None) -> None:
        """Process even if the socket drops meanwhile: the result is in the log for the next sync."""

        async def run() -> None:
            if before:
                await before()
            try:
                await self.process(conversation, client_id, text)
            except Exception:
                logger.exception("web chat message %s in %s failed", client_id, conversation.id)
            finally:
                if after:
                    await after()

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _read(self, conversation_id: str, after: int, mark: bool) -> list[dict[str, Any]]:
        with self.database.session() as session:
            messages = push_hub.messages_after(db_session=session, conversation_id=conversation_id, after=after, limit=BATCH)
            if mark:
                push_hub.mark_delivered(db_session=session, message_ids=[m.id for m in messages if m.direction == "out"])
            return [wire(m) for m in messages]

    async def read(self, conversation_id: str, after: int, mark: bool = True) -> list[dict[str, Any]]:
        return await run_in_threadpool(self._read, conversation_id, after, mark)


def get_webchat(app: FastAPI) -> WebChat:
    webchat: WebChat = app.state.webchat
    return webchat


# --- rendering at the edge -------------------------------------------------------------------------

_ITEM_IN_ANSWER = re.compile(r"^(?:【(?P<a>[^】\n]{1,80})】|“(?P<b>[^”\n]{1,80})”由)")


def guide_link(text: str) -> dict[str, Any] | None:
    """The guide page of the item an answer names (answers start with 【事项名称】 or “事项名称”由)."""
    match = _ITEM_IN_ANSWER.match(text or "")
    if not match:
        return None
    entry = get_index().kb.by_name(match.group("a") or match.group("b"))
    if entry is None:
        return None
    return {"id": entry.id, "name": entry.name, "url": f"/guides/{entry.id}"}


def wire(message: push_hub.LoggedMessage) -> dict[str, Any]:
    """One logged message as the browser receives it."""
    data = {
        "id": message.id,
        "direction": message.direction,
        "sender": message.sender,
        "text": message.text,
        "buttons": [{"title": b.get("title", ""), "payload": b.get("payload", "")} for b in message.buttons],
        "client_id": message.client_id,
        "action": message.action,
        "at": message.at,
    }
    if message.direction == "out":
        data["guide"] = guide_link(message.text)
    return data


def client_ip(connection: HTTPConnection) -> str:
    """The peer address (behind a reverse proxy, run uvicorn with --proxy-headers so this is the citizen's)."""
    return connection.client.host if connection.client else "unknown"


def page_headers(webchat: WebChat) -> dict[str, Any]:
    csp = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; "
           f"base-uri 'none'; form-action 'self'; frame-ancestors {webchat.frame_ancestors}")
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


# --- pages and assets ------------------------------------------------------------------------------

@router.get("/", include_in_schema=False)
async def chat_page(request: Request, embed: bool = False) -> Response:
    """The citizen's chat page."""
    return templates.TemplateResponse(request, "chat.html", {"embed": embed}, headers=page_headers(get_webchat(request.app)))


@router.get("/widget.js", include_in_schema=False)
async def widget() -> Response:
    """The embed script: `<script src="https://…/widget.js" defer></script>` on any county page."""
    return FileResponse(STATIC / "widget.js", media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})


@router.get("/static/webchat/{name}", include_in_schema=False)
async def asset(name: str) -> Response:
    if name not in STATIC_FILES:
        return JSONResponse({"error": "没有这个文件"}, status_code=404)
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name], headers={"Cache-Control": "public, max-age=300"})


# --- HTTP: session and fallback transport ----------------------------------------------------------

class SessionResponse(BaseModel):
    conversation_id: str
    token: str


class SendRequest(BaseModel):
    client_id: str = Field(..., pattern=CLIENT_ID.pattern, description="客户端消息编号，重试时保持不变")
    text: str = Field(..., max_length=20000)
    after: int = Field(0, ge=0, le=MAX_ID, description="客户端已有的最后一条消息编号")


class MessagesResponse(BaseModel):
    messages: list[dict[str, Any]]
    more: bool = False


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


@router.post("/api/webchat/session", response_model=SessionResponse, status_code=201)
async def new_session(request: Request) -> SessionResponse | JSONResponse:
    """Start a web chat conversation: its id and the signed token that gives access to it."""
    try:
        conversation_id, token = await get_webchat(request.app).start(client_ip(request))
    except Refusal as refusal:
        return refusal.response()
    return SessionResponse(conversation_id=conversation_id, token=token)


@router.get("/api/webchat/conversations/{conversation_id}/messages", response_model=MessagesResponse)
async def poll_messages(request: Request, conversation_id: str, after: int = Query(0, ge=0, le=MAX_ID),
                        authorization: str | None = Header(None)) -> MessagesResponse | JSONResponse:
    """The conversation's messages after id `after` (HTTP fallback; also used to check history)."""
    webchat = get_webchat(request.app)
    try:
        await webchat.authorize(conversation_id, _bearer(authorization))
    except Refusal as refusal:
        return refusal.response()
    messages = await webchat.read(conversation_id, after)
    return MessagesResponse(messages=messages, more=len(messages) == BATCH)


@router.post("/api/webchat/conversations/{conversation_id}/messages", response_model=MessagesResponse)
async def send_message(request: Request, conversation_id: str, body: SendRequest,
                       authorization: str | None = Header(None)) -> MessagesResponse | JSONResponse:
    """Send a message over plain HTTP; returns every message after `after`, the replies included."""
    webchat = get_webchat(request.app)
    try:
        conversation = await webchat.authorize(conversation_id, _bearer(authorization))
        await webchat.check_rate(conversation_id, client_ip(request))
    except Refusal as refusal:
        return refusal.response()
    await webchat.process(conversation, body.client_id, body.text)
    messages = await webchat.read(conversation_id, body.after)
    return MessagesResponse(messages=messages, more=len(messages) == BATCH)


class PushRequest(BaseModel):
    text: str = Field(..., min_length=1, max_length=5000)
    sender: str = Field("operator", pattern=r"^(operator|system|bot)$")
    buttons: list[dict[str, Any]] = Field(default_factory=list)
    action: str | None = Field(None, max_length=32)


@router.post("/internal/push/{conversation_id}", include_in_schema=False, response_model=None)
async def push_endpoint(request: Request, conversation_id: str, body: PushRequest,
                        authorization: str | None = Header(None)) -> dict[str, Any] | JSONResponse:
    """Deliveries.to_conversation over HTTP for other processes on this host; off unless PUSH_API_KEY is set."""
    key = get_webchat(request.app).push_api_key
    if not key:
        return JSONResponse({"error": "推送接口未启用"}, status_code=404)
    if not hmac.compare_digest((_bearer(authorization) or "").encode(), key.encode()):
        return JSONResponse({"error": "推送密钥不正确"}, status_code=401)
    reply = Reply(text=body.text, sender=body.sender, action=body.action,
                  buttons=[Button(title=str(b.get("title", "")), payload=str(b.get("payload", ""))) for b in body.buttons])
    try:
        pushed = await request.app.state.services.deliveries.to_conversation(conversation_id, reply)
    except push_hub.UnknownConversation as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    return {"message_id": pushed.message_id, "delivered": pushed.delivered}


# --- WebSocket transport ---------------------------------------------------------------------------

class Connection:
    """One open socket: sends the conversation's messages after its cursor, in order, once."""

    def __init__(self, websocket: WebSocket, webchat: WebChat, conversation: ConversationRef, after: int):
        self.websocket, self.webchat, self.conversation, self.cursor = websocket, webchat, conversation, after
        self.open = True
        self._send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> bool:
        if not self.open:
            return False
        try:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))
            return True
        except Exception:  # the peer went away; the log keeps everything for its next connection
            self.open = False
            return False

    async def sync(self) -> None:
        """Send every message after the cursor (called on connect and by the push hub)."""
        async with self._send_lock:
            while self.open:
                messages = await self.webchat.read(self.conversation.id, self.cursor, mark=False)
                if not messages:
                    return
                if not await self.send({"type": "messages", "messages": messages}):
                    return
                self.cursor = messages[-1]["id"]
                delivered = [m["id"] for m in messages if m["direction"] == "out"]
                if delivered:
                    await run_in_threadpool(self._mark, delivered)
                if len(messages) < BATCH:
                    return

    def _mark(self, message_ids: list[int]) -> None:
        with self.webchat.database.session() as session:
            push_hub.mark_delivered(db_session=session, message_ids=message_ids)


async def _receive_frame(websocket: WebSocket, timeout: float) -> dict[str, Any] | None:
    """The next JSON object from the client; None when it disconnected or went quiet; {} when malformed."""
    try:
        message = await asyncio.wait_for(websocket.receive(), timeout=timeout)
    except asyncio.TimeoutError:
        return None
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None or len(text) > MAX_FRAME_CHARS:
        return {}
    try:
        frame = loads_bounded(text)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


async def _close(websocket: WebSocket, code: int) -> None:
    try:
        await websocket.close(code=code)
    except Exception:
        pass


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    webchat = get_webchat(websocket.app)
    hello = await _receive_frame(websocket, HELLO_TIMEOUT)
    if hello is None:
        return await _close(websocket, 1000)
    if hello.get("type") != "hello" or not isinstance(hello.get("conversation_id"), str):
        await websocket.send_text(json.dumps(Refusal(400, "bad_request", HELLO_FIRST).frame(), ensure_ascii=False))
        return await _close(websocket, 4400)
    try:
        conversation = await webchat.authorize(hello["conversation_id"], hello.get("token") if isinstance(hello.get("token"), str) else None)
    except Refusal as refusal:
        await websocket.send_text(json.dumps(refusal.frame(), ensure_ascii=False))
        return await _close(websocket, SOCKET_CLOSE.get(refusal.status, 4400))
    after = hello.get("after")
    connection = Connection(websocket, webchat, conversation, after if isinstance(after, int) and 0 <= after <= MAX_ID else 0)
    stop_listening = webchat.hub.listen(conversation.id, connection.sync)
    try:
        await connection.sync()
        await connection.send({"type": "ready", "conversation_id": conversation.id})
        while connection.open:
            frame = await _receive_frame(websocket, IDLE_TIMEOUT)
            if frame is None:
                break
            kind = frame.get("type")
            if kind == "ping":
                await connection.send({"type": "pong"})
            elif kind == "message" and isinstance(frame.get("text"), str) and CLIENT_ID.match(str(frame.get("client_id", ""))):
                client_id = frame["client_id"]
                try:
                    await webchat.check_rate(conversation.id, client_ip(websocket))
                except Refusal as refusal:
                    await connection.send(refusal.frame(client_id))
                    continue
                webchat.process_in_background(
                    conversation, client_id, frame["text"],
                    before=lambda: connection.send({"type": "typing", "on": True}),
                    after=lambda: connection.send({"type": "typing", "on": False}),
                )
            else:
                await connection.send(Refusal(400, "bad_request", BAD_REQUEST).frame())
    finally:
        stop_listening()
        connection.open = False
        await _close(websocket, 1000)
