"""Guide search and guide pages as JSON."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from knowledge.service import get_index

router = APIRouter(prefix="/api/guides", tags=["guides"])


@router.get("/search")
async def search(q: str = Query(..., min_length=1, max_length=500, description="问题或事项名称"), top: int = Query(5, ge=1, le=20)) -> list[dict[str, Any]]:
    """Best-matching items for a question, best first."""
    hits = await run_in_threadpool(get_index().search, q, top)
    return [hit.as_dict() for hit in hits]


@router.get("/{guide_id}")
async def guide(guide_id: str) -> dict[str, Any]:
    """One item: the full guide, or the catalogue entry."""
    entry = get_index().kb.by_id(guide_id)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"没有编号为 {guide_id} 的办事指南")
    fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in entry.raw.items()}
    return {"id": entry.id, "name": entry.name, "department": entry.department, "detailed": entry.detailed, "fields": fields}
