"""A group of the review inbox becomes a new step of a life event (一件事): the item is added as the event's last step
with its condition and the group's wordings as the event's 常见问法, published as a knowledge version; the questions
asked again now get the whole event and leave the inbox, and the assistant lists the new step."""
import pytest
from handoff.conftest import ADMIN, ADMIN_PASSWORD, Operator

from bot.clock import utcnow
from bot.insight import inbox
from bot.insight.models import TurnOutcome
from knowledge import versions
from knowledge.content import seed_content
from knowledge.events import asked_event
from knowledge.service import get_index

MONTH_OLD = ["娃儿满月了，除了上户口还要给他办哪些证", "娃儿满月了，除了上户口还要给他办哪些证",
             "孩子满月了除了上户口还要办哪些证件", "娃儿满月了除了上户口还要给他办哪些证嘛"]
CARD = "社会保障卡申领"


def seed(database) -> None:
    with database.session() as s:
        for n, question in enumerate(MONTH_OLD, 1):
            s.add(TurnOutcome(conversation_id=f"web-{n}", channel="web", question=question, created_at=utcnow(),
                              outcome="answered", item_id="x", confidence=0.9, followed_by="dispute"))


def test_a_group_becomes_a_step_of_a_life_event_and_leaves_the_inbox(insight_client):
    client = insight_client
    seed(client.app.state.database)
    kb = get_index().kb
    assert all(asked_event(q, kb.events) is None for q in MONTH_OLD)  # not yet asked as the newborn's whole event
    admin = Operator(client, ADMIN, ADMIN_PASSWORD)
    page = admin.get("/console/admin/inbox")
    assert page.status_code == 200 and "新生儿出生" in page.text and 'value="event"' in page.text
    group = next(g for g in admin.get("/console/api/admin/insight/inbox").json()["groups"] if "满月" in g["question"])
    card = kb.by_name(CARD).id

    refused = admin.post(f"/console/api/admin/insight/inbox/{group['key']}/event", {"event_id": "no-such", "item_id": card})
    assert refused.status_code == 422 and "没有编号为 no-such" in refused.text

    done = admin.post(f"/console/api/admin/insight/inbox/{group['key']}/event",
                      {"event_id": "newborn", "item_id": card, "condition": "需要办社保卡看病报销的"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["version"] == 2 and body["step_added"] and body["steps"][-1] == CARD
    assert body["resolved"] == body["asked"] == len(MONTH_OLD), body
    left = [g["question"] for g in admin.get("/console/api/admin/insight/inbox").json()["groups"]]
    assert not any("满月" in q for q in left)
    audit = admin.get("/console/api/admin/audit?action=knowledge").json()["entries"]
    assert any("发布第 2 版" in e["detail"] and "一件事" in e["detail"] for e in audit)

    # the version holds it, and this process serves it at once: the assistant lists the new step with its condition
    with client.app.state.database.session() as s:
        newborn = next(d for d in versions.content_of(db_session=s).events if d["编号"] == "newborn")
        before = next(d for d in versions.content_of(db_session=s, number=1).events if d["编号"] == "newborn")
    assert newborn["步骤"][-1] == {"事项": CARD, "条件": "需要办社保卡看病报销的"} and CARD not in str(before["步骤"])
    reply = client.post("/api/chat", json={"sender": "again", "text": MONTH_OLD[0]}).json()
    text = "\n".join(r.get("text") or "" for r in reply["replies"])
    assert text.startswith("【一件事：新生儿出生】") and CARD in text and "需要办社保卡看病报销的" in text

    # the group is gone: publishing it again is refused
    again = admin.post(f"/console/api/admin/insight/inbox/{group['key']}/event", {"event_id": "newborn", "item_id": card})
    assert again.status_code == 422 and "已没有这一组" in again.text


def test_a_step_must_be_a_detailed_guide_and_the_wordings_are_checked():
    content = seed_content()
    catalogue_only = next(i for i, d in content.items.items() if not d.get("办理流程"))
    card = next(i for i, d in content.items.items() if d["事项名称"] == CARD)
    with pytest.raises(inbox.InboxError, match="详细办事指南"):
        inbox.event_step(content, "newborn", catalogue_only, "", ["娃儿满月了还要办哪些证"])
    new, event, step_added, added = inbox.event_step(content, "newborn", card, "", ["娃儿满月了还要办哪些证"])
    assert step_added and added == ["娃儿满月了还要办哪些证"] and event["步骤"][-1] == {"事项": CARD}
    assert [d["编号"] for d in new.events] == [d["编号"] for d in content.events] and new.items is content.items
    assert asked_event("娃儿满月了还要办哪些证", new.to_kb().events).id == "newborn"
    assert asked_event("娃儿满月了还要办哪些证", content.to_kb().events) is None  # the content it was made from is unchanged
    with pytest.raises(inbox.InboxError, match="已经是“新生儿出生”的一步"):
        inbox.event_step(new, "newborn", card, "", ["娃儿满月了还要办哪些证"])
