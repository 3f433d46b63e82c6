"""County facts in one place (knowledge/county.yaml): the hotline number, the provincial portal, the way onward
when the knowledge base does not know."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

COUNTY_FILE = Path(__file__).resolve().parent / "county.yaml"


@lru_cache(maxsize=1)
def county() -> dict[str, Any]:
    """County-level facts (hotline, portal) used for the way onward."""
    facts: dict[str, Any] = yaml.safe_load(COUNTY_FILE.read_text(encoding="utf-8"))
    return facts


def way_onward() -> str:
    c = county()
    return f"您可以在{c['网上办事大厅']}（{c['网上办事地址']}）查询，或拨打{c['热线']}热线咨询人工客服。"
