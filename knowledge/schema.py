"""Service-guide schema: Chinese field names of the national item list, typed and validated."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ITEM_TYPES = {"行政许可", "行政确认", "行政给付", "行政裁决", "行政奖励", "其他行政权力", "公共服务", "行政征收", "行政检查"}
MATERIAL_KINDS = {"原件", "复印件", "原件和复印件", "电子证照", "填写表格"}
NECESSITY = {"必要", "容缺", "非必要", "情形必要"}

# field name -> (required, type check, reason shown when the check fails)
Check = tuple[Callable[[Any], object], str]
_STR = (lambda v: isinstance(v, str) and v.strip() != "", "应为非空文字")
_BOOL = (lambda v: isinstance(v, bool), "应为 true 或 false")
_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "应为非负整数")
_STRLIST = (lambda v: isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v), "应为文字列表")
_LIMIT = (
    lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) or (isinstance(v, str) and v.strip()),
    "应为工作日天数（整数，0 表示即办）、文字说明或 null（未知）",
)
_DATE = (lambda v: isinstance(v, dt.date), "应为日期 YYYY-MM-DD")

GUIDE_FIELDS: dict[str, tuple[bool, Check]] = {
    "事项名称": (True, _STR),
    "别名": (True, _STRLIST),
    "关键词": (True, _STRLIST),
    "常见问法": (True, _STRLIST),
    "常见情形": (False, _STRLIST),  # situations people describe instead of naming the item; search data, never shown
    "实施编码": (False, _STR),
    "事项类型": (True, (lambda v: v in ITEM_TYPES, "应为以下之一：" + "、".join(sorted(ITEM_TYPES)))),
    "实施主体": (True, _STR),
    "受理条件": (True, _STR),
    "申请材料": (True, (lambda v: isinstance(v, list), "应为材料列表")),
    "办理流程": (True, (lambda v: _STRLIST[0](v) and len(v) >= 2, "应为至少两步的文字列表")),
    "法定办结时限": (True, _LIMIT),
    "承诺办结时限": (True, _LIMIT),
    "时限说明": (False, _STR),
    "是否收费": (True, _BOOL),
    "收费标准": (False, _STR),
    "办理地点": (True, _STR),
    "办理时间": (True, _STR),
    "咨询电话": (True, _STR),
    "是否网办": (True, _BOOL),
    "网办程度": (False, _STR),
    "网办地址": (False, _STR),
    "到办事现场次数": (True, _INT),
    "是否支持预约办理": (True, _BOOL),
    "预约需身份证号": (False, _BOOL),
    "代办": (True, _BOOL),
    "设定依据": (True, _STRLIST),
    "常见问题": (False, (lambda v: isinstance(v, list) and all(isinstance(x, dict) and x.get("问") and x.get("答") for x in v), "应为 {问, 答} 列表")),
    "核对日期": (True, _DATE),
    "来源": (True, _STR),
    "示例": (True, _BOOL),
    "示例字段": (False, _STRLIST),
}
MIN_LENGTHS = {"别名": 2, "关键词": 3, "常见问法": 8}
MATERIAL_FIELDS: dict[str, tuple[bool, Check]] = {
    "名称": (True, _STR),
    "材料类型": (True, (lambda v: v in MATERIAL_KINDS, "应为以下之一：" + "、".join(sorted(MATERIAL_KINDS)))),
    "份数": (True, (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "应为正整数")),
    "必要性": (True, (lambda v: v in NECESSITY, "应为以下之一：" + "、".join(sorted(NECESSITY)))),
    "来源": (False, _STR),
    "备注": (False, _STR),
}


@dataclass(frozen=True)
class Problem:
    """One validation problem: which file, which field, why."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class Material:
    name: str
    kind: str | None = None  # an official export may list material names only
    copies: int | None = None
    necessity: str | None = None
    source: str | None = None
    note: str | None = None


@dataclass
class Entry:
    """A knowledge entry: a detailed guide, or a catalogue-only item (name, department, type)."""

    id: str
    name: str
    department: str
    type: str
    detailed: bool = False
    aliases: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    situations: list[str] = field(default_factory=list)  # 常见情形
    raw: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """A schema field by its Chinese name, or None."""
        return self.raw.get(key)

    @property
    def materials(self) -> list[Material]:
        return [
            Material(m["名称"], m.get("材料类型"), m.get("份数"), m.get("必要性"), m.get("来源"), m.get("备注"))
            for m in self.raw.get("申请材料") or []
        ]

    @property
    def has_guide(self) -> bool:
        """Whether there is guide content to answer from: a curated guide, or an imported one (materials, place...)."""
        return self.detailed or any(name in self.raw for name in GUIDE_FIELDS if name not in CATALOGUE_ONLY_FIELDS)

    @property
    def sample_fields(self) -> set[str]:
        return set(self.raw.get("示例字段") or [])

    @property
    def verified(self) -> str | None:
        value = self.raw.get("核对日期")
        return value.isoformat() if isinstance(value, dt.date) else None


# What every item has, a catalogue-only item nothing more (别名, 实施编码 and 来源 may come with it).
CATALOGUE_FIELDS = ("事项名称", "实施主体", "事项类型")
CATALOGUE_ONLY_FIELDS = {*CATALOGUE_FIELDS, "别名", "实施编码", "来源", "示例"}


def validate_guide(data: Any, file: str, imported: bool = False) -> list[Problem]:
    """Every problem of one guide document (empty when valid). A curated guide (the repo's YAML) needs every required
    field; an `imported` item (an official export) needs only CATALOGUE_FIELDS, and the fields it has must be valid."""
    if not isinstance(data, dict):
        return [Problem(file, "(文件)", "应为字段映射（YAML 对象）")]
    problems = []
    for name, (required, (check, reason)) in GUIDE_FIELDS.items():
        if name not in data:
            if required and (not imported or name in CATALOGUE_FIELDS):
                problems.append(Problem(file, name, "缺少必填字段"))
            continue
        if not check(data[name]):
            problems.append(Problem(file, name, f"{reason}，实际为 {data[name]!r}"))
        elif name in MIN_LENGTHS and len(data[name]) < MIN_LENGTHS[name] and not imported:
            problems.append(Problem(file, name, f"至少需要 {MIN_LENGTHS[name]} 项，实际 {len(data[name])} 项"))
    for name in data:
        if name not in GUIDE_FIELDS:
            problems.append(Problem(file, name, "未知字段（拼写错误？见 knowledge/SCHEMA.md）"))
    for i, material in enumerate(data.get("申请材料") or [] if isinstance(data.get("申请材料"), list) else []):
        where = f"申请材料[{i + 1}]"
        if not isinstance(material, dict):
            problems.append(Problem(file, where, "应为材料对象（名称、材料类型、份数、必要性…）"))
            continue
        for name, (required, (check, reason)) in MATERIAL_FIELDS.items():
            if name not in material:
                if required and (not imported or name == "名称"):
                    problems.append(Problem(file, f"{where}.{name}", "缺少必填字段"))
            elif not check(material[name]):
                problems.append(Problem(file, f"{where}.{name}", f"{reason}，实际为 {material[name]!r}"))
        for name in material:
            if name not in MATERIAL_FIELDS:
                problems.append(Problem(file, f"{where}.{name}", "未知字段"))
    if data.get("是否收费") is True and not data.get("收费标准"):
        problems.append(Problem(file, "收费标准", "是否收费为 true 时必须填写收费标准"))
    if data.get("是否网办") is True and not data.get("网办地址"):
        problems.append(Problem(file, "网办地址", "是否网办为 true 时必须填写网办地址"))
    for name in data.get("示例字段") or [] if isinstance(data.get("示例字段"), list) else []:
        if name not in GUIDE_FIELDS:
            problems.append(Problem(file, "示例字段", f"{name!r} 不是指南字段"))
    return problems


def validate_catalogue_entry(data: Any, file: str, index: int) -> list[Problem]:
    where = f"事项[{index + 1}]"
    if not isinstance(data, dict):
        return [Problem(file, where, "应为对象（事项名称、实施主体、事项类型）")]
    problems = []
    for name in ("事项名称", "实施主体"):
        if not _STR[0](data.get(name)):
            problems.append(Problem(file, f"{where}.{name}", "缺少或为空"))
    if data.get("事项类型") not in ITEM_TYPES:
        problems.append(Problem(file, f"{where}.事项类型", f"应为以下之一：{'、'.join(sorted(ITEM_TYPES))}"))
    return problems
