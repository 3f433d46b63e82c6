"""Admins keep the knowledge in the console: guides due for review, a guide form checked as it is typed, a preview of
the answers, publish as a new version (audited) served by the app within seconds, rollback; operators cannot."""
import time

import pytest
from handoff.conftest import ADMIN, ADMIN_PASSWORD, Operator, admin_and_operator

from knowledge import editing, service
from knowledge.answers import answer

ITEM = "补领结婚证"


@pytest.fixture(autouse=True)
def fresh_index():
    """The app swaps the process's index: every other test sees the repo's YAML again afterwards."""
    service.reset()
    yield
    service.reset()


def form_of(admin: Operator, name: str) -> tuple[str, dict]:
    entry = service.get_index().kb.by_name(name)
    page = admin.get(f"/console/admin/knowledge/{entry.id}")
    assert page.status_code == 200 and "编辑办事指南" in page.text and 'name="收费标准"' in page.text
    return entry.id, editing.as_form(entry.raw)


def test_an_admin_edits_a_fee_previews_publishes_and_the_assistant_answers_with_it(app_client):
    admin, operator = admin_and_operator(app_client)
    overview = admin.get("/console/admin/knowledge")
    assert overview.status_code == 200 and "待核对的办事指南" in overview.text and "示例字段待确认" in overview.text
    assert operator.get("/console/admin/knowledge").status_code == 403
    item_id, fields = form_of(admin, ITEM)
    body = {"item_id": item_id, "base": 1, "fields": {**fields, "是否收费": "也许"}, "confirmed": []}
    problems = admin.post("/console/api/admin/knowledge/check", body).json()["problems"]
    assert {"field": "是否收费", "reason": "应为“是”或“否”，实际为“也许”"} in problems
    body["fields"] = {**fields, "是否收费": "是", "收费标准": "工本费9元（控制台测试）"}
    preview = admin.post("/console/api/admin/knowledge/preview", {**body, "question": "补办要钱不"}).json()
    assert preview["problems"] == [] and "工本费9元（控制台测试）" in preview["answers"][0]["text"]
    assert operator.post("/console/api/admin/knowledge/publish", {**body, "reason": "x"}).status_code == 403
    published = admin.post("/console/api/admin/knowledge/publish", {**body, "reason": "收费标准调整"})
    assert published.status_code == 200 and published.json() == {"version": 2}, published.text
    deadline = time.monotonic() + 10
    while service.version() != 2 and time.monotonic() < deadline:  # the app's own watcher swaps the index
        time.sleep(0.2)
    entry = service.get_index().kb.by_name(ITEM)
    assert "工本费9元（控制台测试）" in answer(entry, "fee").text
    stale = admin.post("/console/api/admin/knowledge/publish", {**body, "fields": {**body["fields"], "收费标准": "10元"}})
    assert stale.status_code == 409 and "已有人发布了第 2 版" in stale.json()["error"]
    audit = admin.get("/console/api/admin/audit", params={"action": "knowledge"}).json()["entries"]
    assert audit[0]["target"] == ITEM and "发布第 2 版：收费标准调整" in audit[0]["detail"]
    assert admin.post("/console/api/admin/knowledge/rollback", {"number": 1, "reason": "误改"}).json() == {"version": 3}
    listing = admin.get("/console/admin/knowledge").text
    assert "收费标准调整" in listing and "rollback:1" in listing


def test_confirming_a_sample_field_takes_its_mark_away(app_client):
    admin = Operator(app_client, ADMIN, ADMIN_PASSWORD)
    entry = next(e for e in service.get_index().kb.guides if e.sample_fields)
    marked = sorted(entry.sample_fields)
    page = admin.get(f"/console/admin/knowledge/{entry.id}").text
    assert page.count("示例，待确认") == len([f for f in marked if f in editing.FORM_FIELDS])
    body = {"item_id": entry.id, "base": 1, "fields": editing.as_form(entry.raw), "confirmed": [marked[0]], "reason": "核实"}
    assert admin.post("/console/api/admin/knowledge/publish", body).status_code == 200
    deadline = time.monotonic() + 10
    while service.version() != 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert service.get_index().kb.by_id(entry.id).sample_fields == set(marked[1:])
