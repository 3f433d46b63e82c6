"""Ratings (服务评价) on the national five levels, with optional comments.
Plain functions over a db_session."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import as_utc
from bot.errors import InvalidInput, NotFound
from bot.handoff.models import (
    RATING_LEVELS,
    Rating,
    WorkOrder,
)
from bot.handoff.queue import conversation_channel
from bot.handoff.work_orders import create_work_order

_LEVEL_WORDS = sorted(RATING_LEVELS, key=len, reverse=True)  # "非常不满意" before "不满意" before "满意"
# degrees said around a level: "不太满意" is 不满意 (not 满意), "很不满意" 非常不满意, "特别满意" 非常满意
_DEGREES = [(re.compile(r"不(?:太|大|怎么|咋|是很|是太|是特别|够|是那么)满意"), "不满意"),
            (re.compile(r"(?:很|特别|太|超|相当|十分|极其|一点都)不满意"), "非常不满意"),
            (re.compile(r"(?:很|特别|太|超|相当|十分|极其|超级)满意"), "非常满意")]
_MIDDLING = re.compile(r"^(一般般?|还行|还可以|凑合|马马虎虎|过得去)[嘛吧啊哈了。！!～~]*$")
_DIGIT_LEVEL = {"1": "非常满意", "2": "满意", "3": "基本满意", "4": "不满意", "5": "非常不满意"}  # the order offered
# a score said as one ("5分", "打五星", "满分", "3分嘛，说得太长了", "五星好评"): five is the best, whatever the order of
# the offered list
_SCORE = re.compile(r"^(?:给|打)?(?:你|您|你们)?(?:打)?(?:个)?(?:([1-5一二两三四五])(?:分|星|颗星)|(满分))(?:好评|差评)?[嘛吧啊哈了。！!～~]*"
                    r"(?:$|[，,；;\s])")
_SCORE_LEVEL = {score: level for level, score in RATING_LEVELS.items()}
_SCORES = {**{str(n): n for n in range(1, 6)}, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def level_of(text: str, allow_number: bool = False) -> str | None:
    """The rating level a text names ("非常满意", "不满意"...; "1"-"5" in the offered order when allowed)."""
    text = (text or "").strip().replace("滿", "满").replace("見", "见")
    for degree, level in _DEGREES:
        text = degree.sub(level, text)
    for word in _LEVEL_WORDS:
        if word in text:
            return word
    if _MIDDLING.match(text):  # "一般嘛", "还行": the middle of the five levels
        return "基本满意"
    if score := _SCORE.match(text):
        return _SCORE_LEVEL[5 if score.group(2) else _SCORES[score.group(1)]]
    if allow_number and text in _DIGIT_LEVEL:
        return _DIGIT_LEVEL[text]
    return None


def record_rating(*, db_session: Session, conversation_id: str, level: str, now: dt.datetime, handoff_id: int | None = None,
                  comment: str = "") -> Rating:
    """Store a rating; 不满意 or worse opens a work order for review."""
    now = as_utc(now)
    if level not in RATING_LEVELS:
        raise InvalidInput(f"评价只能是：{'、'.join(RATING_LEVELS)}")
    channel = conversation_channel(db_session=db_session, conversation_id=conversation_id)
    rating = Rating(conversation_id=conversation_id, handoff_id=handoff_id, level=level, score=RATING_LEVELS[level],
                    comment=comment, channel=channel, created_at=now)
    db_session.add(rating)
    db_session.flush()
    if rating.score <= 2:
        order = create_work_order(db_session=db_session, category="review", now=now, channel=channel, conversation_id=conversation_id,
                                  description=f"群众评价“{level}”，请回访核实原因并改进。")
        rating.work_order_id = order.id
        db_session.flush()
    return rating


def add_rating_comment(*, db_session: Session, rating_id: int, comment: str) -> Rating:
    rating = db_session.get(Rating, rating_id)
    if rating is None:
        raise NotFound("没有这条评价")
    rating.comment = comment.strip()[:2000]
    order = db_session.get(WorkOrder, rating.work_order_id) if rating.work_order_id else None
    if order is not None:
        order.description = f"{order.description}\n群众意见：{rating.comment}"
    db_session.flush()
    return rating


def rated_recently(*, db_session: Session, conversation_id: str, now: dt.datetime, minutes: int = 60) -> bool:
    now = as_utc(now)
    since = now - dt.timedelta(minutes=minutes)
    return (db_session.scalar(
        select(func.count()).select_from(Rating).where(Rating.conversation_id == conversation_id, Rating.created_at >= since)
    ) or 0) > 0


@dataclass
class RatingSummary:
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    satisfied_share: float | None = None  # 非常满意 + 满意 + 基本满意 over all


def list_ratings(*, db_session: Session, level: str = "", limit: int = 200) -> tuple[list[Rating], RatingSummary]:
    query = select(Rating).order_by(Rating.id.desc()).limit(limit)
    if level:
        query = query.where(Rating.level == level)
    counts: dict[str, int] = {level: count for level, count in
                              db_session.execute(select(Rating.level, func.count()).group_by(Rating.level)).tuples()}
    summary = RatingSummary({name: counts.get(name, 0) for name in RATING_LEVELS}, sum(counts.values()))
    if summary.total:
        summary.satisfied_share = sum(v for k, v in counts.items() if RATING_LEVELS.get(k, 0) >= 3) / summary.total
    return list(db_session.scalars(query)), summary
