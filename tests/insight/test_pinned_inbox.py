"""A review-inbox group turned into a pinned answer (人工干预): previewed, published as a knowledge version (audited),
its questions asked again leave the inbox, the assistant answers them with staff's text (through the real actions),
and rolling the version back removes it."""
from handoff.conftest import ADMIN, ADMIN_PASSWORD, Operator
from insight.test_inbox import MARRIAGE, seed
from sqlalchemy import select

from bot.insight.models import TurnOutcome
from knowledge import service as knowledge_service
from knowledge.service import get_index

ANSWER = "结婚证遗失的，请带身份证和户口本到县民政局婚姻登记处申请补领，当场办结。"


def chat(client, sender: str, text: str) -> str:
    response = client.post("/api/chat", json={"sender": sender, "text": text})
    assert response.status_code == 200, response.text
    return "\n".join(r.get("text") or "" for r in response.json()["replies"])


def last_outcome(client) -> TurnOutcome:
    with client.app.state.database.session() as s:
        return s.scalars(select(TurnOutcome).order_by(TurnOutcome.id.desc()).limit(1)).one()


def test_a_group_pinned_is_answered_with_staffs_text_until_rolled_back(insight_client):
    client = insight_client
    seed(client.app.state.database)
    assert "工作人员答复" not in chat(client, "before", "红本本掉了咋整")
    admin = Operator(client, ADMIN, ADMIN_PASSWORD)
    group = next(g for g in admin.get("/console/api/admin/insight/inbox").json()["groups"] if g["question"] == "红本本掉了咋整")
    item_id = get_index().kb.by_name("补领结婚证").id
    url = f"/console/api/admin/insight/inbox/{group['key']}/pin"

    refused = admin.post(url + "/preview", {"answer": "Please visit the civil affairs bureau.", "item_id": item_id})
    assert refused.status_code == 422 and "答复应使用中文" in refused.text
    preview = admin.post(url + "/preview", {"answer": ANSWER, "item_id": item_id})
    assert preview.status_code == 200, preview.text
    assert preview.json()["reply"].startswith("【工作人员答复】" + ANSWER)
    assert set(preview.json()["questions"]) == {"红本本掉了咋整", "红本本搞丢了咋整", "红本本弄丢了咋个整"}
    assert knowledge_service.version() in (None, 1)  # a preview publishes nothing

    done = admin.post(url, {"answer": ANSWER, "item_id": item_id})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["version"] == 2 and body["pinned"] == "P1" and body["resolved"] == body["asked"] == len(MARRIAGE) + 1, body  # and the one asked above
    left = [g["question"] for g in admin.get("/console/api/admin/insight/inbox").json()["groups"]]
    assert "红本本掉了咋整" not in left and "社保卡丢了咋补办" in left
    audit = admin.get("/console/api/admin/audit?action=knowledge").json()["entries"]
    assert any("发布第 2 版" in e["detail"] and ANSWER in e["detail"] for e in audit)

    # asked again (a near wording), through the real actions: staff's answer, noted as answered about the item
    reply = chat(client, "again", "红本本掉了咋个整嘛")
    assert reply.startswith("【工作人员答复】" + ANSWER) and "工作人员审核发布" in reply, reply
    last = last_outcome(client)
    assert (last.outcome, last.aspect, last.item_name) == ("answered", "pinned", "补领结婚证")
    assert "工作人员答复" not in chat(client, "other", "结婚证丢了要带什么材料")  # other questions are searched as before

    rolled = admin.post("/console/api/admin/knowledge/rollback", {"number": 1, "reason": "撤下人工答复 P1"})
    assert rolled.status_code == 200, rolled.text
    knowledge_service.refresh(client.app.state.database, client.app.state.settings.secret_key.get_secret_value())
    assert knowledge_service.version() == 3 and len(get_index().kb.pinned) == 0
    assert "工作人员答复" not in chat(client, "after", "红本本掉了咋整")
