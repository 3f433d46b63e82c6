"""Import a Sichuan county item catalogue (portal export as JSON) into knowledge/catalogue.yaml.

Only the standard item name, the department in Jiajiang's county form and the item type are kept:
another county's item codes, department codes and links are never carried over.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

COUNTY = "夹江县"
# Departments whose county name differs from a plain 区→县 swap.
DEPARTMENT_NAMES = {
    "区公安分局": "县公安局",
    "广安区税务局": "国家税务总局夹江县税务局",
    "区教科体局": "县教育局",
    "区消防大队": "县消防救援大队",
}


def county_department(department: str) -> str:
    """区人社局 → 夹江县人社局; names already naming a county are kept."""
    name = DEPARTMENT_NAMES.get(department)
    if name is None:
        name = "县" + department[1:] if department.startswith("区") else department
    if name.startswith(COUNTY) or name.startswith("国家税务总局"):
        return name
    return COUNTY + name[1:] if name.startswith("县") else COUNTY + name


def convert(source: dict[str, Any]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    items = []
    for item in source["items"]:
        name = item["name"].strip()
        if name in seen:
            continue
        seen.add(name)
        items.append({"事项名称": name, "实施主体": county_department(item["department"]), "事项类型": item["task_type_name"]})
    return items


def import_catalogue(source_path: Path, target_path: Path) -> int:
    """Write the converted catalogue; returns the number of items written."""
    items = convert(json.loads(source_path.read_text(encoding="utf-8")))
    header = (
        "# 夹江县政务服务事项目录（目录级条目：事项名称、实施主体、事项类型）。\n"
        "# 由 `python -m bot kb import-catalogue` 从四川省标准事项名称生成；有详细办事指南的事项见 guides/。\n"
    )
    body = yaml.safe_dump({"事项": items}, allow_unicode=True, sort_keys=False, width=200)
    target_path.write_text(header + body, encoding="utf-8")
    return len(items)
