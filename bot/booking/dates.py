"""Chinese date and time expressions (今天, 周六, 下个礼拜一, 11月30号, 12.5, 中午, 下午三点 ...) via
jionlp's time parser, with the few fixes office hours need (12.5 as a date, 三点 as 15:00)."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from dataclasses import dataclass

with contextlib.redirect_stdout(io.StringIO()):  # jionlp prints a banner on import
    import jionlp

from bot.clock import TZ

_DOTTED = re.compile(r"(?<![\d.])(1[0-2]|0?[1-9])[./](3[01]|[12]\d|0?[1-9])(?![\d.])")
_DAY_WORDS = re.compile(r"今天|明天|后天|大后天|周|星期|礼拜|月|号|日|\d{4}年")


@dataclass(frozen=True)
class When:
    """A span of time a citizen named: from `start` to `end` (naive, county time)."""

    start: dt.datetime
    end: dt.datetime
    day_given: bool

    @property
    def whole_day(self) -> bool:
        return self.start.time() == dt.time(0) and self.end - self.start >= dt.timedelta(hours=23)

    @property
    def days(self) -> list[dt.date]:
        count = (self.end.date() - self.start.date()).days + 1
        return [self.start.date() + dt.timedelta(days=n) for n in range(count)]

    def covers(self, day: dt.date, at: dt.time) -> bool:
        """Whether a slot starting at day/at falls in this span (a time-only span applies to any day)."""
        if not self.day_given:
            return self.whole_day or self.start.time() <= at <= self.end.time()
        moment = dt.datetime.combine(day, at)
        return self.start <= moment <= self.end


# "周三我有事，改到下周五下午", "中午走不开，改成下周一晚上六点半": the time after the last of these is the one wanted.
_CHANGE_TO = re.compile(r"改到|改成|改为|换到|换成|挪到|调到|推到|推迟到|提前到|延到|往后挪到|往前挪到|(?<![修更])改(?=下下?|这|明|后|大后|周|星期|礼拜)|"
                        # "星期天不开门嗦 那这周六上午十点嘛", "周六他要去医院体检，就这周五中午嘛，十二点"
                        r"(?<![这那哪])(?:那就?|就)(?=这|下|明|后|大后|周|星期|礼拜|今|\d|[一二三四五六七八九十])")


# "往后推一天", "推迟两天", "提前一天", "往后挪一周": a move counted from the booking's own day
_SHIFT = re.compile(r"(往后|向后|推迟|推后|延后|延迟|顺延|提前|往前|向前)(?:推|挪|延|移|调)?(?:个)?\s*([一两二三四五六七\d])\s*(天|日|周|个?星期|个?礼拜)")
_COUNT = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}


def shift_days(text: str) -> int | None:
    """Days a booking is moved by ("往后推一天" +1, "提前两天" -2, "推迟一周" +7), or None when no such move is said."""
    found = _SHIFT.search(text or "")
    if found is None:
        return None
    count = int(found.group(2)) if found.group(2).isdigit() else _COUNT[found.group(2)]
    days = count * (1 if found.group(3) in ("天", "日") else 7)
    return -days if found.group(1) in ("提前", "往前", "向前") else days


def without_shift(text: str) -> str:
    """The text with its move phrase taken out ("往后推一天 还是中午" → " 还是中午"), for the time of day it keeps."""
    return _SHIFT.sub(" ", text or "")


# a character of a name spelled out by a word it starts ("是高明 明天的明", "李丽 美丽的丽" has none): no date
_SPELLED = re.compile(r"([\u4e00-\u9fa5])[\u4e00-\u9fa5]{1,2}的\1(?![\u4e00-\u9fa5])")


# a time said to be impossible ("后天晚上临时要加班", "明天下午我走不开", "晚上不得行嗦") or said wrong ("不是周四 是周五"):
# its clause is no time wanted
_CONFLICT = re.compile(r"^不是|有事|加班|要上班|走不开|走不脱|[去来](?:不了|不成|不到)|不得空|没空|没时间|(?<![行可])不行|不得行|不方便|赶不[到上]|冲突")
_CLAUSE = re.compile(r"[^，,。；;！!？?\s]+")


# a booking code, a mobile or an ID number said with the time ("改成下午三点 7XMNB6 199…"): no minutes or day in them;
# "现在" is when the citizen speaks, not a time wanted ("帮我查下现在约的是哪天")
_NO_TIME = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}(?![A-Za-z0-9])|\d{7,}|现在|目前")


def parse_when(text: str, now: dt.datetime) -> When | None:
    """The date/time wanted: after a change word ("改到…") if there is one with a time after it, else the first
    date/time expression in text; a clause that says a time is impossible is left out, though its day counts for a
    time said without one ("下周一上午有事，下午可以"); or None."""
    ruled_out: list[str] = []

    def unless_ruled_out(clause: re.Match[str]) -> str:
        if _CONFLICT.search(clause.group()):
            ruled_out.append(clause.group())
            return " "
        return clause.group()

    text = _CLAUSE.sub(unless_ruled_out, _SPELLED.sub(" ", _NO_TIME.sub(" ", text or "")))
    marks = list(_CHANGE_TO.finditer(text))
    wanted = _parse_first(text[marks[-1].end():], now) if marks else None
    wanted = wanted or _parse_first(text, now)
    if wanted is not None and not wanted.day_given and ruled_out:
        said = _parse_first(" ".join(ruled_out), now)
        if said is not None and said.day_given and said.start.date() == said.end.date():
            day = said.start.date()
            return When(dt.datetime.combine(day, wanted.start.time()), dt.datetime.combine(day, wanted.end.time()), True)
    return wanted


# "五点半以后", "下午三点过后": from that time (the parser reads "以后" as a span up to now); "下班后": the evening
_FROM_TIME = re.compile(r"(?<=[点半钟])\s*(?:以后|之后|过后|后)")
_AFTER_WORK = re.compile(r"下了?班(?:以后|之后|过后|后)")

# "一点那个", "一点钟": one o'clock, which the parser reads as "a little" ("晚一点", "快一点" stay so)
_ONE_OCLOCK = re.compile(r"(?<![早晚快慢多少好些等差有十百零〇一二三四五六七八九两\d])一点(?=那个|的那个|钟|半|整|左右|嘛|吧|$)")


def _parse_first(text: str, now: dt.datetime) -> When | None:
    """The first date/time expression in text, or None."""
    text = _DOTTED.sub(lambda m: f"{int(m.group(1))}月{int(m.group(2))}日", text or "")
    text = _ONE_OCLOCK.sub("1点", _FROM_TIME.sub("", _AFTER_WORK.sub("傍晚", text)))
    now = now.astimezone(TZ)
    base = {"year": now.year, "month": now.month, "day": now.day, "hour": now.hour, "minute": now.minute, "second": now.second}
    try:
        found = jionlp.ner.extract_time(text, time_base=base, with_parsing=True)
    except Exception:  # jionlp raises on strings it cannot parse; that simply means "no time here"
        return None
    first: When | None = None
    for item in found:
        span = item.get("detail", {}).get("time")
        if item.get("detail", {}).get("type") not in ("time_point", "time_span") or not isinstance(span, list) or len(span) < 2:
            continue
        try:  # open-ended spans ("今年以前": -inf) and anything else that is not a plain time are no date
            start, end = (dt.datetime.strptime(str(s), "%Y-%m-%d %H:%M:%S") for s in span[:2])
        except ValueError:
            continue
        if end - start <= dt.timedelta(hours=1) and 1 <= start.hour <= 7:  # 三点 at an office means 15:00
            start, end = start + dt.timedelta(hours=12), end + dt.timedelta(hours=12)
        found_when = When(start, end, bool(_DAY_WORDS.search(item["text"])))
        if first is None:
            first = found_when
        elif not first.day_given and found_when.day_given:
            # "白天上班 明天傍晚能约不": a time of day before the day was said about something else, unless the day
            # comes without one ("下午 明天有空": that day, that time)
            if not found_when.whole_day:
                return found_when
            day = found_when.start.date()
            return When(dt.datetime.combine(day, first.start.time()), dt.datetime.combine(day, first.end.time()), True)
        elif not first.day_given and not found_when.day_given:
            continue  # "白天要上班 晚上能去办不 帮我约下周三晚上": a day may still come
        elif first.day_given and not found_when.day_given and (
                first.whole_day or found_when.end - found_when.start <= dt.timedelta(hours=1) < first.end - first.start
                and first.start.time() <= found_when.start.time() <= first.end.time()):
            # "下周四 … 晚上六点", "下周五中午过来，帮我约十二点": that day, that time
            day = first.start.date()
            return When(dt.datetime.combine(day, found_when.start.time()), dt.datetime.combine(day, found_when.end.time()), True)
        elif first.whole_day and found_when.day_given and found_when.start.date() == first.start.date():
            return found_when  # "约个周六去办身份证，这周六上午行不行": the same day, said again with its time
        else:
            break
    return first
