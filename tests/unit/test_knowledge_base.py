"""The shipped knowledge base: the 54 detailed guides, the catalogue, and the validator's reports."""
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import REQUIRED_ITEMS, ROOT

from knowledge.loader import KnowledgeError, load

SOURCE_CATALOGUE = ROOT / "knowledge" / "sources" / "sichuan-guangan-catalogue.json"


@pytest.fixture(scope="module")
def kb():
    return load(strict=True)


def test_every_required_item_has_a_valid_detailed_guide(kb):
    names = {g.name for g in kb.guides}
    assert [n for n in REQUIRED_ITEMS if n not in names] == []
    assert kb.problems == []


def test_every_guide_is_dated_sourced_and_marked_sample(kb):
    for guide in kb.guides:
        assert isinstance(guide.get("核对日期"), dt.date), guide.id
        assert guide.get("来源"), guide.id
        assert guide.get("示例") is True, guide.id
        assert "办理地点" in guide.sample_fields, f"{guide.id}: window details are county-specific samples"


def test_seed_commitments_are_in_the_business_guides(kb):
    assert kb.by_name("有限责任公司设立登记").get("承诺办结时限") in (1, 2, 3)
    assert kb.by_name("个体工商户设立登记").get("承诺办结时限") in (0, 1, 2, 3)
    simple = kb.by_name("企业简易注销登记")
    assert "3" in json.dumps(simple.raw, ensure_ascii=False, default=str)


def test_catalogue_has_every_sichuan_standard_name_in_county_form(kb):
    source = json.loads(SOURCE_CATALOGUE.read_text(encoding="utf-8"))
    names = {item["name"] for item in source["items"]}
    by_name = {e.name: e for e in kb.entries}
    assert names <= set(by_name)
    catalogue = [e for e in kb.entries if not e.detailed]
    assert len(catalogue) + len([g for g in kb.guides if g.name in names]) == len(names)
    text = (ROOT / "knowledge" / "catalogue.yaml").read_text(encoding="utf-8")
    assert "广安" not in text and "511602" not in text and "sczwfw.gov.cn/jiq" not in text
    assert all(e.department.startswith(("夹江县", "国家税务总局夹江县")) for e in catalogue)


def write(directory: Path, name: str, data) -> None:
    (directory / name).write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_validator_names_file_field_and_reason(tmp_path):
    good = yaml.safe_load((ROOT / "knowledge" / "guides" / "id-card.yaml").read_text(encoding="utf-8"))
    bad = dict(good, 事项名称="测试事项", 是否收费="是", 到办事现场次数=-1)
    del bad["核对日期"]
    bad["申请材料"] = [{"名称": "户口簿", "材料类型": "原件", "份数": 0, "必要性": "必要"}]
    write(tmp_path, "good.yaml", good)
    write(tmp_path, "bad.yaml", bad)
    (tmp_path / "broken.yaml").write_text("事项名称: [unclosed", encoding="utf-8")
    kb = load(tmp_path, None)
    found = {(p.file, p.field) for p in kb.problems}
    assert ("bad.yaml", "是否收费") in found
    assert ("bad.yaml", "到办事现场次数") in found
    assert ("bad.yaml", "核对日期") in found
    assert ("bad.yaml", "申请材料[1].份数") in found
    assert ("broken.yaml", "(文件)") in found
    assert [g.id for g in kb.guides] == ["good"]
    with pytest.raises(KnowledgeError):
        load(tmp_path, None, strict=True)


def test_validate_command_exits_non_zero_and_reports(tmp_path):
    write(tmp_path, "bad.yaml", {"事项名称": "只有名字"})
    result = subprocess.run(
        [sys.executable, "-m", "bot", "kb", "validate", "--guides", str(tmp_path), "--catalogue", str(tmp_path / "none.yaml")],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 1
    assert "bad.yaml: 实施主体: 缺少必填字段" in result.stdout
    ok = subprocess.run([sys.executable, "-m", "bot", "kb", "validate"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout


def test_a_life_event_alias_is_found_with_a_measure_word_or_le_inside():
    from knowledge.events import asked_event, events
    assert asked_event("我想开个饭馆子 卖家常炒菜的 要办哪些证照", events()).name == "开店"
    assert asked_event("我婆娘刚生了 娃娃要办些啥子手续哦", events()).name == "新生儿出生"
    assert asked_event("社保卡要办些啥", events()) is None


def test_the_documents_to_take_for_one_item_are_not_a_life_event():
    from knowledge.events import asked_event, events
    # "要带哪些证件": what to take along for 失业登记 (one item's materials), though 失业 names a life event
    assert asked_event("失业登记要带哪些证件？在哪里办？", events()) is None
    assert asked_event("开店要准备哪些证明", events()) is None
    assert asked_event("失业了要办哪些证", events()).name == "失业和创业"  # the papers to get: the whole event
