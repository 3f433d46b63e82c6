"""Guide pages for citizens: `/guides` (search box over the knowledge base) and `/guides/{id}` (one item:
materials, steps, time limits, fees, place and hours, online link, visits, 核对日期, the 示例 note).
HTML is rendered with Jinja2 autoescaping; `linkify` turns http(s) URLs into links and escapes the rest."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from channels.webchat import get_webchat, page_headers, templates
from knowledge.county import county
from knowledge.service import get_index

router = APIRouter(tags=["guides"], include_in_schema=False)

URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_TRAILING = ".,;:!?)'"


def linkify(text: object) -> Markup:
    """Escape text and make its http(s) URLs clickable (opened in a new window)."""
    text = "" if text is None else str(text)
    out: list[Markup] = []
    last = 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        end = match.start() + len(url)
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}<span class="sr-only">（在新窗口打开）</span></a>')
                   .format(url))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def days(value: object) -> str:
    if value is None:
        return "暂无信息"
    if isinstance(value, int):
        return "即办（当场办结）" if value == 0 else f"{value}个工作日"
    return str(value)


def tel(phone: object) -> str:
    """Digits for a tel: link."""
    return re.sub(r"[^0-9+]", "", str(phone or ""))


templates.env.filters["linkify"] = linkify
templates.env.filters["days"] = days
templates.env.filters["tel"] = tel


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    headers = page_headers(get_webchat(request.app))
    return templates.TemplateResponse(request, name, {"county": county(), **context}, status_code=status_code, headers=headers)


@router.get("/guides")
async def guides_page(request: Request, q: str = Query("", max_length=200)) -> Response:
    """Search box; results for `q`, or every detailed guide when there is no question."""
    index = get_index()
    q = q.strip()
    hits = await run_in_threadpool(index.search, q, 10) if q else []
    guides = sorted(index.kb.guides, key=lambda e: (e.department, e.name)) if not q else []
    return _render(request, "guides.html", {"q": q, "hits": hits, "guides": guides})


@router.get("/guides/{guide_id}")
async def guide_page(request: Request, guide_id: str) -> Response:
    """One item's guide (or its catalogue entry, with the way onward)."""
    entry = get_index().kb.by_id(guide_id)
    if entry is None:
        return _render(request, "guide_missing.html", {"guide_id": guide_id}, status_code=404)
    verified = entry.get("核对日期")
    return _render(request, "guide.html", {
        "entry": entry,
        "g": entry.raw,
        "sample": set(entry.sample_fields),
        "verified": verified.isoformat() if isinstance(verified, dt.date) else None,
    })
