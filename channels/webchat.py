"""Web chat over JSON: `POST /api/chat` {"sender", "text"} → {"replies": [...]}."""
from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from channels.messages import InboundMessage, Reply

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    sender: str = Field(..., min_length=1, max_length=128, description="会话发起方的标识")
    text: str = Field(..., max_length=20000, description="用户消息（超过 500 字会得到提示）")
    client_id: str | None = Field(None, max_length=64, description="客户端消息编号，重试时保持不变以免重复处理")


class ChatResponse(BaseModel):
    conversation_id: str
    replies: list[Reply]


@router.post("/api/chat", response_model=ChatResponse)
async def chat(body: ChatRequest, request: Request) -> ChatResponse:
    """Send a citizen's message to the assistant and get its replies."""
    service = request.app.state.conversations
    conversation_id, replies = await service.handle(
        InboundMessage(channel="web", sender=body.sender, text=body.text, client_id=body.client_id)
    )
    return ChatResponse(conversation_id=conversation_id, replies=replies)
