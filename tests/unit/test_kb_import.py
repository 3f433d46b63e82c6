"""`kb import`: every format from small fixture files made here, merged against the seed, and each bad input reported
in Chinese with its row and field, nothing applied."""
import datetime as dt
import json
import os

import pytest
from openpyxl import Workbook

from knowledge import import_formats
from knowledge.answers import answer
from knowledge.content import Content, seed_content
from knowledge.importer import plan

HEADER = ["事项名称", "实施主体", "事项类型", "实施编码", "别名", "受理条件", "申请材料", "办理流程", "承诺办结时限", "是否收费",
          "办理地点", "咨询电话", "是否网办", "到办事现场次数", "核对日期"]
ROW = ["夹江县测试许可", "夹江县测试局", "行政许可", "TEST-001", "测试证、测试许可证", "本县居民",
       "居民身份证|原件|1|必要\n申请表|填写表格|1|必要", "提交申请；窗口受理；发证", "5个工作日", "否",
       "夹江县政务服务中心3号窗口", "0833-0000000", "否", "1", "2026-11-30"]


@pytest.fixture(scope="module")
def seed():
    return seed_content()


def write_csv(path, rows, encoding="utf-8"):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def errors(result):
    return [str(p) for p in result.problems]


def only(result, name):
    assert result.ok, errors(result)
    return next(d for d in result.content.items.values() if d["事项名称"] == name)


def test_csv_row_becomes_a_typed_guide_and_the_diff_says_added(tmp_path, seed):
    result = plan([write_csv(tmp_path / "guides.csv", [HEADER, ROW])], seed)
    item = only(result, "夹江县测试许可")
    assert item["别名"] == ["测试证", "测试许可证"] and item["办理流程"] == ["提交申请", "窗口受理", "发证"]
    assert item["申请材料"] == [{"名称": "居民身份证", "材料类型": "原件", "份数": 1, "必要性": "必要"},
                            {"名称": "申请表", "材料类型": "填写表格", "份数": 1, "必要性": "必要"}]
    assert item["承诺办结时限"] == 5 and item["是否收费"] is False and item["到办事现场次数"] == 1
    assert item["核对日期"] == dt.date(2026, 11, 30)
    assert result.diff.added == ["夹江县测试许可"] and not result.diff.removed and not result.diff.changed
    assert len(result.content.items) == len(seed.items) + 1  # merged: the seed's items stay


def test_gbk_csv_is_detected_and_reads_the_same(tmp_path, seed):
    utf8 = plan([write_csv(tmp_path / "utf8.csv", [HEADER, ROW])], seed)
    gbk = plan([write_csv(tmp_path / "gbk.csv", [HEADER, ROW], encoding="gbk")], seed)
    assert only(gbk, "夹江县测试许可") == only(utf8, "夹江县测试许可")
    assert any("编码" in str(note) and "GB" in str(note).upper() for note in gbk.notes)


def test_xlsx_with_materials_in_a_second_sheet(tmp_path, seed):
    book = Workbook()
    items = book.active
    items.title = "事项"
    items.append(["事项名称", "实施主体", "事项类型", "实施编码", "到办事现场次数", "核对日期"])
    items.append(["夹江县表格许可", "夹江县测试局", "行政许可", "XLSX-1", 0, dt.datetime(2026, 11, 1)])
    items.append(["夹江县表格确认", "夹江县测试局", "行政确认", "XLSX-2", 1, None])
    materials = book.create_sheet("申请材料")
    materials.append(["事项名称", "实施编码", "名称", "材料类型", "份数", "必要性"])
    materials.append(["夹江县表格许可", None, "营业执照", "原件", 1, "必要"])
    materials.append([None, "XLSX-2", "户口簿", "复印件", 2, "容缺"])
    book.save(tmp_path / "guides.xlsx")
    result = plan([tmp_path / "guides.xlsx"], seed)
    first, second = only(result, "夹江县表格许可"), only(result, "夹江县表格确认")
    assert first["申请材料"] == [{"名称": "营业执照", "材料类型": "原件", "份数": 1, "必要性": "必要"}]
    assert first["到办事现场次数"] == 0 and first["核对日期"] == dt.date(2026, 11, 1)
    assert second["申请材料"] == [{"名称": "户口簿", "材料类型": "复印件", "份数": 2, "必要性": "容缺"}]
    assert "核对日期" not in second  # an empty cell gives nothing


def test_xlsx_formulas_are_refused_never_evaluated(tmp_path, seed):
    book = Workbook()
    book.active.append(["事项名称", "实施主体", "事项类型", "到办事现场次数"])
    book.active.append(["夹江县公式事项", "夹江县测试局", "行政许可", "=1+1"])
    book.save(tmp_path / "formula.xlsx")
    result = plan([tmp_path / "formula.xlsx"], seed)
    assert not result.ok and result.content is None
    assert any("第2行" in e and "到办事现场次数" in e and "公式" in e for e in errors(result))


def test_csv_formula_cell_is_refused(tmp_path, seed):
    result = plan([write_csv(tmp_path / "f.csv", [HEADER[:3] + ["咨询电话"], ["夹江县某事项", "夹江县测试局", "行政许可", "=HYPERLINK(\"x\")"]])], seed)
    assert any("第2行" in e and "咨询电话" in e and "公式" in e for e in errors(result))


def test_missing_required_column(tmp_path, seed):
    result = plan([write_csv(tmp_path / "m.csv", [["事项名称", "事项类型"], ["夹江县某事项", "行政许可"]])], seed)
    assert errors(result) == ["m.csv: 表头: 缺少必填列“实施主体”"] and result.content is None


def test_duplicate_item_codes_and_names(tmp_path, seed):
    other = ["夹江县另一许可", *ROW[1:]]  # same 实施编码 as ROW
    again = list(ROW)
    again[3] = "TEST-009"  # the same name again
    result = plan([write_csv(tmp_path / "d.csv", [HEADER, ROW, other, again])], seed)
    assert any(e.startswith("d.csv 第3行: 实施编码:") and "第2行" in e for e in errors(result))
    assert any(e.startswith("d.csv 第4行: 事项名称:") and "重复" in e for e in errors(result))
    assert result.content is None


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, seed):
    big = tmp_path / "big.csv"
    with open(big, "wb") as f:
        f.truncate(import_formats.MAX_BYTES + 1)  # sparse: no 50 MB written
    result = plan([big], seed)
    assert len(result.problems) == 1 and "超过导入上限 50 MB" in str(result.problems[0]) and result.content is None


def test_html_is_stripped_and_reported_but_law_titles_in_angle_brackets_stay(tmp_path, seed):
    row = list(ROW)
    row[5] = "<p>本县居民<br/>持&nbsp;身份证</p><script>alert(1)</script>"
    row[10] = "依据<广东省实施办法>第二条"
    result = plan([write_csv(tmp_path / "h.csv", [HEADER, row])], seed)
    item = only(result, "夹江县测试许可")
    assert item["受理条件"] == "本县居民\n持\xa0身份证" and "script" not in json.dumps(item, ensure_ascii=False, default=str)
    assert item["办理地点"] == "依据<广东省实施办法>第二条"
    assert [str(n) for n in result.notes if "HTML" in n.reason] == ["h.csv 第2行: 受理条件: 含 HTML 标签，已去除标签、保留文字"]


@pytest.mark.parametrize("materials, reason", [
    ("居民身份证|原件|两|必要", "份数应为正整数"),
    ("居民身份证|原件|1|必要|申请人自备|备注|多余", "最多 6 段"),
    ("居民身份证|原件件|1|必要", "材料类型"),
])
def test_material_lists_that_do_not_parse_name_row_and_field(tmp_path, seed, materials, reason):
    row = list(ROW)
    row[6] = materials
    result = plan([write_csv(tmp_path / "bad.csv", [HEADER, row])], seed)
    assert result.content is None
    assert any(e.startswith("bad.csv 第2行: 申请材料") and reason in e for e in errors(result)), errors(result)


def test_bad_yes_no_and_date(tmp_path, seed):
    row = list(ROW)
    row[9], row[14] = "也许", "2026-13-01"
    result = plan([write_csv(tmp_path / "v.csv", [HEADER, row])], seed)
    assert "v.csv 第2行: 是否收费: 应为“是”或“否”，实际为“也许”" in errors(result)
    assert any(e.startswith("v.csv 第2行: 核对日期: 应为日期") for e in errors(result))


GUANGDONG = {"TASK_CODE": "1144000000X", "TASK_TYPE_TEXT": "行政许可", "DEPT_NAME": "广东省测试厅", "TASK_NAME": "测试经营许可",
             "visit_number": "1", "handle_location": "办理地点：广州市测试路1号", "handle_time": "20(工作日)",
             "handle_time_limit": "无", "accept_standard": "依法设立的企业", "consult_phone": "020-00000000",
             "ONLINECHECK": "1", "URL": "https://example.gov.cn/apply", "material_intro": ["申请书", "营业执照"]}


def test_guangdong_export_shape(tmp_path, seed):
    city = {**GUANGDONG, "TASK_CODE": "1144010000Y", "DEPT_NAME": "广州市测试局"}
    path = tmp_path / "guangdong.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in (GUANGDONG, city)) + "\n", encoding="utf-8")
    result = plan([path], seed)
    item = only(result, "测试经营许可（广东省测试厅）")
    assert item["法定办结时限"] == 20 and "承诺办结时限" not in item and item["办理地点"] == "广州市测试路1号"
    assert item["申请材料"] == [{"名称": "申请书"}, {"名称": "营业执照"}] and item["到办事现场次数"] == 1
    assert item["是否网办"] is True and item["网办地址"] == "https://example.gov.cn/apply" and item["实施编码"] == "1144000000X"
    assert only(result, "测试经营许可（广州市测试局）")["实施主体"] == "广州市测试局"
    entry = result.content.to_kb().by_name("测试经营许可（广东省测试厅）")
    assert entry.has_guide and not entry.detailed  # answered from its fields, found by name (no example questions)
    materials, fee, place = (answer(entry, aspect).text for aspect in ("materials", "fee", "location_hours"))
    assert "1. 申请书\n2. 营业执照" in materials and "来源：广东省政务服务网办事指南导出" in materials
    assert "暂时没有这项的收费信息" in fee and "办理时间" not in place and "None" not in materials + fee + place


def test_sichuan_catalogue_shape_keeps_no_codes(tmp_path, seed):
    data = {"source": "test", "items": [
        {"department": "区民政局", "name": "夹江县测试目录事项", "item_code": "511X", "task_type_name": "公共服务", "portal_link": "http://x"},
        {"department": "区民政局", "name": "夹江县测试目录事项", "item_code": "511Y", "task_type_name": "公共服务"}]}
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = plan([path], seed)
    assert only(result, "夹江县测试目录事项") == {"事项名称": "夹江县测试目录事项", "实施主体": "夹江县民政局", "事项类型": "公共服务"}
    assert any("同名" in str(n) for n in result.notes)


def test_repo_yaml_folder_and_export_round_trip(tmp_path, seed):
    from knowledge.loader import CATALOGUE_FILE, GUIDES_DIR

    assert not plan([GUIDES_DIR, CATALOGUE_FILE], seed).diff  # the seed imported onto itself changes nothing
    seed.export(tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["catalogue.yaml", "events", "guides"]
    back = plan([tmp_path / "out"], Content({}))
    assert back.ok and back.content.items == seed.items  # null time limits ("unknown") included


def test_an_import_keeps_the_fields_it_does_not_give(tmp_path, seed):
    result = plan([write_csv(tmp_path / "fee.csv", [["事项名称", "实施主体", "事项类型", "是否收费", "收费标准"],
                                                    ["个体工商户设立登记", "夹江县市场监督管理局", "行政许可", "是", "每件20元"]])], seed)
    item = only(result, "个体工商户设立登记")
    assert item["收费标准"] == "每件20元" and len(item["常见问法"]) >= 8
    [(name, fields)] = result.diff.changed
    assert name == "个体工商户设立登记" and set(fields) <= {"是否收费", "收费标准", "实施主体"} and "收费标准" in fields


def test_replace_removes_what_the_files_do_not_hold(tmp_path, seed):
    result = plan([write_csv(tmp_path / "all.csv", [HEADER, ROW])], seed, replace=True)
    assert result.ok and list(result.content.items.values())[0]["事项名称"] == "夹江县测试许可"
    assert len(result.diff.removed) == len(seed.items) and result.diff.added == ["夹江县测试许可"]
