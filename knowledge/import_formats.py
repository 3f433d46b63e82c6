"""Read the files guides come in into records (one per item, Chinese field names): CSV and XLSX with the national
schema's column names (materials in a second sheet or a delimited cell), JSON/JSONL as the Guangdong guide export or
the Sichuan catalogue export (or records in the schema's own field names), and the repo's YAML (a file or a folder).

Reading never guesses values: table cells stay text (typed later, knowledge/importer.py), formulas are refused and
never evaluated, and every problem names the file, the row and the column.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.catalogue_import import county_department
from knowledge.schema import CATALOGUE_FIELDS, GUIDE_FIELDS, MATERIAL_FIELDS, Problem

MAX_BYTES = 50 * 1024 * 1024  # larger files are refused before they are read
MATERIAL_SHEETS = ("申请材料", "材料")  # the XLSX sheet holding materials, one row each
ITEM_KEYS = ("事项名称", "实施编码")  # a material row names its item by either


class ImportRefused(Exception):
    """The file cannot be read at all (size, type); the message says why, in Chinese."""


@dataclass
class Record:
    where: str  # "guides.csv 第3行", for the report
    data: dict[str, Any]  # Chinese field names -> values (text from tables, typed from JSON/YAML)
    item_id: str | None = None  # a YAML guide file's stem


@dataclass
class Reading:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # errors: nothing is applied while any remains
    notes: list[Problem] = field(default_factory=list)  # what was changed or ignored, said in the report


def read(path: Path) -> Reading:
    """The records of one file or folder."""
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    if size > MAX_BYTES:
        raise ImportRefused(f"{path.name}: 文件大小 {size / 2**20:.1f} MB，超过导入上限 {MAX_BYTES // 2**20} MB；请按部门拆分后分批导入。")
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in (".yaml", ".yml"):
        return _read_yaml(path)
    readers = {".csv": _read_csv, ".xlsx": _read_xlsx, ".json": _read_json, ".jsonl": _read_json}
    if suffix not in readers:
        raise ImportRefused(f"{path.name}: 不支持的文件类型“{suffix or '无扩展名'}”；可导入 CSV、XLSX、JSON、JSONL、YAML 或 YAML 文件夹。")
    return readers[suffix](path)


# -- tables -----------------------------------------------------------------------------------------
def _decode(raw: bytes) -> tuple[str | None, str]:
    """(text, encoding): UTF-8, else what charset-normalizer finds (GBK exports are common). The right encoding is
    the one whose header names the schema's first column."""
    from charset_normalizer import from_bytes

    candidates = ["utf-8-sig", *(m.encoding for m in from_bytes(raw)), "gb18030"]
    decoded = []
    for encoding in dict.fromkeys(candidates):
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        if "事项名称" in text.split("\n", 1)[0]:
            return text, encoding
        decoded.append((text, encoding))
    return decoded[0] if decoded else (None, "")


def _read_csv(path: Path) -> Reading:
    reading = Reading()
    text, encoding = _decode(path.read_bytes())
    if text is None:
        reading.problems.append(Problem(path.name, "(文件)", "无法识别文件编码；请在 Excel 中另存为“CSV UTF-8”后再导入"))
        return reading
    if encoding not in ("utf-8-sig", "utf_8", "utf-8"):
        reading.notes.append(Problem(path.name, "(文件)", f"文件编码为 {encoding.upper()}，已按此编码读取"))
    rows = list(csv.reader(io.StringIO(text)))
    _table(path.name, rows, reading, first_row=1)
    return reading


def _cell(value: object) -> object:
    """A spreadsheet cell as text (dates as YYYY-MM-DD, whole numbers without .0); formulas stay as their text."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if not isinstance(value, (str, int, float, bool)):  # openpyxl's ArrayFormula and the like
        return "=" + str(getattr(value, "text", value))
    return str(value)


def _read_xlsx(path: Path) -> Reading:
    from openpyxl import load_workbook

    reading = Reading()
    try:
        book = load_workbook(path, read_only=True, data_only=False)  # formulas as written: never evaluated
    except Exception as exc:  # noqa: BLE001  (zip, XML and openpyxl errors all mean "not a readable XLSX")
        reading.problems.append(Problem(path.name, "(文件)", f"无法读取 XLSX：{type(exc).__name__}"))
        return reading
    sheets = {sheet.title: [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}
    book.close()
    titles = list(sheets)
    material_title = next((t for t in titles if t.strip() in MATERIAL_SHEETS), None)
    if material_title is None and len(titles) > 1 and "名称" in (sheets[titles[1]] or [[]])[0]:
        material_title = titles[1]  # materials as rows of the second sheet, whatever it is called
    main_title = next((t for t in titles if t != material_title), titles[0])
    _table(f"{path.name}[{main_title}]", sheets[main_title], reading, first_row=1)
    if material_title is not None:
        _attach_materials(f"{path.name}[{material_title}]", sheets[material_title], reading)
    return reading


def _header(where: str, rows: Sequence[Sequence[object]], reading: Reading, required: tuple[str, ...], known: set[str]) -> list[str] | None:
    header = [str(h).strip() for h in rows[0]] if rows else []
    missing = [name for name in required if name not in header]
    if missing:
        reading.problems += [Problem(where, "表头", f"缺少必填列“{name}”") for name in missing]
        return None
    for name in header:
        if name and name not in known:
            reading.notes.append(Problem(where, "表头", f"未知列“{name}”，已忽略（列名见 knowledge/SCHEMA.md）"))
    return header


def _table(where: str, rows: Sequence[Sequence[object]], reading: Reading, first_row: int) -> None:
    """Item rows: a header of the schema's field names, then one item a row."""
    header = _header(where, rows, reading, CATALOGUE_FIELDS, set(GUIDE_FIELDS))
    if header is None:
        return
    for n, row in enumerate(rows[1:], first_row + 1):
        if not any(str(v).strip() for v in row):
            continue  # blank rows between blocks are common in exports
        record = Record(f"{where} 第{n}行", {})
        for name, value in zip(header, row):
            if name in GUIDE_FIELDS and _formula_free(value, record, name, reading):
                record.data[name] = value
        reading.records.append(record)


def _formula_free(value: object, record: Record, name: str, reading: Reading) -> bool:
    if isinstance(value, str) and value.startswith("="):
        reading.problems.append(Problem(record.where, name, f"单元格是公式（{value[:30]}），导入时不计算公式；"
                                                          "请在 Excel 中复制后“选择性粘贴为数值”再导入"))
        return False
    return True


def _attach_materials(where: str, rows: Sequence[Sequence[object]], reading: Reading) -> None:
    """Material rows (事项名称 or 实施编码, then 名称, 材料类型, 份数, 必要性, 来源, 备注) go to their items."""
    header = [str(h).strip() for h in rows[0]] if rows else []
    if not any(key in header for key in ITEM_KEYS) or "名称" not in header:
        reading.problems.append(Problem(where, "表头", "材料表需要“事项名称”或“实施编码”列，以及“名称”列"))
        return
    items: dict[tuple[str, str], Record] = {}
    for record in reading.records:
        for key in ITEM_KEYS:
            if record.data.get(key):
                items.setdefault((key, str(record.data[key]).strip()), record)
    for n, row in enumerate(rows[1:], 2):
        cells = dict(zip(header, row))
        if not any(str(v).strip() for v in row):
            continue
        here = Record(f"{where} 第{n}行", {})
        owner = next((items.get((key, str(cells.get(key) or "").strip())) for key in ITEM_KEYS if cells.get(key)), None)
        if owner is None:
            reading.problems.append(Problem(here.where, "事项名称", "主表中没有这个事项（按事项名称或实施编码对应）"))
            continue
        material = {name: value for name, value in cells.items()
                    if name in MATERIAL_FIELDS and str(value).strip() and _formula_free(value, here, name, reading)}
        owner.data.setdefault("申请材料", []).append(material)


# -- JSON -------------------------------------------------------------------------------------------
def _read_json(path: Path) -> Reading:
    reading = Reading()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        reading.problems.append(Problem(path.name, "(文件)", "JSON 文件应为 UTF-8 编码"))
        return reading
    try:
        if path.suffix.lower() == ".jsonl":
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except json.JSONDecodeError as exc:
        reading.problems.append(Problem(path.name, f"第{exc.lineno}行", f"不是有效的 JSON：{exc.msg}"))
        return reading
    if isinstance(data, dict) and isinstance(data.get("items"), list):  # the Sichuan catalogue export
        _from_sichuan(path.name, data["items"], reading)
    elif isinstance(data, dict) and isinstance(data.get("事项"), list):
        reading.records += [Record(f"{path.name} 第{n}项", dict(item)) for n, item in enumerate(data["事项"], 1)]
    elif isinstance(data, list) and data and all(isinstance(x, dict) for x in data) and "TASK_NAME" in data[0]:
        _from_guangdong(path.name, data, reading)  # the Guangdong guide export (MongoDB JSON)
    elif isinstance(data, list) and all(isinstance(x, dict) for x in data):
        reading.records += [Record(f"{path.name} 第{n}项", dict(item)) for n, item in enumerate(data, 1)]
    else:
        reading.problems.append(Problem(path.name, "(文件)", "无法识别的 JSON 结构：应为事项列表（字段用 knowledge/SCHEMA.md 的中文名）、"
                                                             "广东省办事指南导出或四川省事项目录导出"))
    return reading


_DAYS = re.compile(r"^\s*(\d+)\s*[（(]?\s*(?:个)?\s*工作日\s*[)）]?\s*$")
_NONE = {"", "无", "-", "/", "null", "None"}


def _text(value: object) -> str | None:
    value = "" if value is None else str(value).strip()
    return None if value in _NONE else value


def _from_guangdong(file: str, items: list[dict[str, Any]], reading: Reading) -> None:
    """TASK_NAME, DEPT_NAME, TASK_TYPE_TEXT, TASK_CODE, accept_standard, material_intro, handle_time(_limit),
    handle_location, consult_phone, visit_number, ONLINECHECK and URL, in the schema's fields. A name the file holds
    several times (the province's and a city's item) is told apart by its department."""
    counts = Counter(_text(item.get("TASK_NAME")) for item in items)
    for n, item in enumerate(items, 1):
        record = Record(f"{file} 第{n}项", {})
        d = record.data
        name, department = _text(item.get("TASK_NAME")), _text(item.get("DEPT_NAME"))
        if name and department and counts[name] > 1:
            name = f"{name}（{department}）"
            reading.notes.append(Problem(record.where, "事项名称", f"文件中有同名事项，已按实施主体区分为“{name}”"))
        for key, value in (("事项名称", name), ("实施主体", department), ("事项类型", _text(item.get("TASK_TYPE_TEXT"))),
                           ("实施编码", _text(item.get("TASK_CODE"))), ("受理条件", _text(item.get("accept_standard"))),
                           ("咨询电话", _text(item.get("consult_phone")))):
            if value is not None:
                d[key] = value
        place = _text(item.get("handle_location"))
        if place:
            d["办理地点"] = re.sub(r"^办理地点[:：]\s*", "", place)
        for key, source in (("法定办结时限", "handle_time"), ("承诺办结时限", "handle_time_limit")):
            value = _text(item.get(source))
            if value is not None:
                match = _DAYS.match(value)
                d[key] = int(match.group(1)) if match else value
        visits = _text(item.get("visit_number"))
        if visits is not None:
            d["到办事现场次数"] = visits
        materials = [m for m in (_text(x) for x in item.get("material_intro") or []) if m]
        if materials:
            d["申请材料"] = [{"名称": m} for m in materials]
        if str(item.get("ONLINECHECK")) in ("0", "1"):
            d["是否网办"] = str(item.get("ONLINECHECK")) == "1"
            if d["是否网办"] and _text(item.get("URL")):
                d["网办地址"] = _text(item.get("URL"))
        d["来源"] = f"广东省政务服务网办事指南导出（{file}）"
        reading.records.append(record)


def _from_sichuan(file: str, items: list[Any], reading: Reading) -> None:
    """Catalogue items: the name, the department in county form (区… → 夹江县…) and the type; another county's codes
    and links are never carried over (as `kb import-catalogue`)."""
    seen: dict[str | None, str] = {}
    for n, item in enumerate(items, 1):
        where = f"{file} 第{n}项"
        if not isinstance(item, dict):
            reading.problems.append(Problem(where, "(事项)", "应为对象（name、department、task_type_name）"))
            continue
        name = _text(item.get("name"))
        if name in seen:
            reading.notes.append(Problem(where, "事项名称", f"与{seen[name]}同名，已跳过"))
            continue
        seen[name] = where
        department = _text(item.get("department"))
        data = {"事项名称": name, "实施主体": county_department(department) if department else None,
                "事项类型": _text(item.get("task_type_name"))}
        reading.records.append(Record(where, {k: v for k, v in data.items() if v is not None}))


# -- the repo's YAML ---------------------------------------------------------------------------------
def _read_yaml(path: Path) -> Reading:
    """A guide file (one item, its id the file stem), a catalogue file (事项: [...]), or a folder of either (like
    knowledge/guides, or what `kb export` writes: guides/ and catalogue.yaml; its events/ and pinned.yaml are not items)."""
    reading = Reading()
    files = sorted(p for p in path.rglob("*.y*ml") if p.is_file()) if path.is_dir() else [path]
    if path.is_dir():  # what `kb export` writes beside the items: life events and pinned answers, kept from the version
        files = [p for p in files if p.parent.name != "events" and p.name != "pinned.yaml"]
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            reading.problems.append(Problem(file.name, "(文件)", f"无法解析 YAML：{exc}".replace("\n", " ")))
            continue
        if isinstance(data, dict) and isinstance(data.get("事项"), list):
            reading.records += [Record(f"{file.name} 第{n}项", dict(item) if isinstance(item, dict) else {"(事项)": item})
                                for n, item in enumerate(data["事项"], 1)]
        elif isinstance(data, dict):
            reading.records.append(Record(file.name, data, item_id=file.stem))
        else:
            reading.problems.append(Problem(file.name, "(文件)", "应为办事指南（字段映射）或目录（事项: 列表）"))
    return reading
