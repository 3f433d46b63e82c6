"""Handoff to people: operator accounts and sessions, the queue, work orders (工单), ratings (服务评价),
what a conversation waits for next, console settings and the audit log."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from bot.db import Base

ROLES = {"operator": "坐席", "admin": "管理员", "department": "承办部门"}  # a department account sees only its appeals
REASONS = {"asked": "要求人工", "fallback": "连续未听懂", "complaint": "投诉", "sensitive": "敏感话题", "caller": "来电按0",
           "operator": "坐席主动接入"}
HANDOFF_STATUSES = {"waiting": "排队中", "active": "人工服务中", "returned": "已交还机器人", "closed": "已结束",
                    "abandoned": "已取消排队", "transferred": "电话已转接"}
OPEN_STATUSES = ("waiting", "active")
CLOSE_CATEGORIES = ["办事咨询", "预约服务", "投诉", "建议", "求助", "代办帮办", "无效会话", "其他"]
WORK_ORDER_CATEGORIES = {"message": "留言", "callback": "预约回电", "complaint": "投诉", "agency": "代办帮办", "review": "差评回访",
                         "appeal": "诉求"}
WORK_ORDER_STATUSES = {"new": "待处理", "in_progress": "处理中", "replied": "已答复", "closed": "已办结",
                       # appeals (bot/appeals): the hotline reviews, a department signs, answers or returns
                       "review": "待派单", "dispatched": "已派单", "accepted": "已签收", "returned": "已退回"}
RATING_LEVELS = {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}


class Operator(Base):
    """A console account: an operator (坐席) or an admin; the password is an argon2 hash."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))  # what citizens see, e.g. "12号坐席"
    role: Mapped[str] = mapped_column(String(16), default="operator")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department: Mapped[str | None] = mapped_column(String(32), nullable=True)  # role "department": its code (bot/appeals/routing.yaml)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # presence
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OperatorSession(Base):
    """A console login; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ip: Mapped[str] = mapped_column(String(64), default="")


class AuditEntry(Base):
    """Who did what to which record: logins, reveals of personal data, take-overs, changes, exports."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_target", "action", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Handoff(Base):
    """One request for a person in one conversation, from the queue to its close."""

    __tablename__ = "handoffs"
    __table_args__ = (
        # at most one waiting or active handoff per conversation: the database refuses a second
        Index("uq_handoff_open", "conversation_id", unique=True,
              sqlite_where=text("status IN ('waiting', 'active')"), postgresql_where=text("status IN ('waiting', 'active')")),
        Index("ix_handoffs_status", "status", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # higher is served first
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)
    bot_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    returned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WorkOrder(Base):
    """A 工单: a message, callback request, complaint, 代办 request or low rating to follow up."""

    __tablename__ = "work_orders"
    __table_args__ = (Index("ix_work_orders_status", "status", "category"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # GD + yymmdd + 4 digits
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    description: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    village: Mapped[str] = mapped_column(String(128), default="")  # 代办: 乡镇和村（社区）
    item_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    item_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    channel: Mapped[str] = mapped_column(String(16), default="")
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"), nullable=True, index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"), nullable=True)
    reply: Mapped[str] = mapped_column(Text, default="")
    replied_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # An appeal (category "appeal", bot/appeals): what the intake form collected, where it was routed, its deadline.
    appeal_type: Mapped[str | None] = mapped_column(String(8), nullable=True)  # 投诉 求助 举报 建议 咨询
    place: Mapped[str] = mapped_column(String(255), default="")
    since: Mapped[str] = mapped_column(String(128), default="")
    wish: Mapped[str] = mapped_column(Text, default="")
    category1: Mapped[str | None] = mapped_column(String(32), nullable=True)
    category2: Mapped[str | None] = mapped_column(String(32), nullable=True)
    department: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)  # asked for (pending) or granted
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    extension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    returned_reason: Mapped[str] = mapped_column(Text, default="")
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # 督办
    reminded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # due soon
    overdue_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # alert sent
    reply_delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    hot_group: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)  # id of the first order of its group


class Rating(Base):
    """A citizen's 服务评价 on the national five levels, with an optional comment."""

    __tablename__ = "ratings"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), nullable=True)
    level: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)  # 5 非常满意 … 1 非常不满意
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(16), default="")
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSetting(Base):
    """Settings admins change in the console (duty hours, duty days, sensitive words); env gives defaults."""

    __tablename__ = "console_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any] | list[Any] | str] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
