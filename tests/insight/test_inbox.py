"""The review inbox groups a seeded set of variants with counts, and a group published as 常见问法 of an item resolves
and leaves the inbox (its questions asked again of the new version)."""
from collections import Counter

from handoff.conftest import ADMIN, ADMIN_PASSWORD, Operator
from sqlalchemy import select

from bot.clock import utcnow
from bot.conversations.models import Conversation
from bot.handoff.models import Rating
from bot.insight import inbox
from bot.insight.models import TurnOutcome
from knowledge.service import get_index

SOCIAL = ["社保卡丢了咋补办", "社保卡丢了怎么补办啊", "社保卡掉了怎么补", "我的社保卡弄丢了要怎么补", "社保卡丢了咋补办"]
MARRIAGE = ["红本本掉了咋整", "红本本搞丢了咋整", "红本本弄丢了咋个整", "红本本掉了咋整", "红本本掉了咋整", "红本本掉了咋个整"]
DOG = ["养的狗要办证吗", "养狗要办证不"]


def add(session, question: str, n: int, **values) -> TurnOutcome:
    row = TurnOutcome(conversation_id=f"web-{n}", channel="web", question=question, created_at=utcnow(),
                      **{"outcome": "not_found", **values})
    session.add(row)
    session.flush()
    return row


def seed(database) -> None:
    with database.session() as s:
        s.add(Conversation(id="web-103", channel="web", sender="r"))
        s.flush()
        n = 0
        for q in SOCIAL + MARRIAGE + DOG:
            n += 1
            add(s, q, n)
        add(s, "身份证要带啥", 100, outcome="answered", item_id="x", confidence=0.95)  # sure and undisputed: not for review
        add(s, "结婚证掉了咋个补", 101, outcome="answered", item_id="x", confidence=0.4)  # low score
        add(s, "户口本丢了补办", 102, outcome="answered", item_id="x", confidence=0.9, followed_by="dispute")
        add(s, "低保怎么申请", 103, outcome="answered", item_id="x", confidence=0.9)
        s.add(Rating(conversation_id="web-103", level="不满意", score=2, channel="web", created_at=utcnow()))
        add(s, "我叫王小明，电话138****5678，低保怎么查", 104)  # masked: never written into the knowledge base


def test_variants_are_grouped_with_counts_and_reasons(insight_client):
    client = insight_client
    seed(client.app.state.database)
    with client.app.state.database.session() as s:
        groups = inbox.group(inbox.candidates(db_session=s))
    by_question = {g.question: g for g in groups}
    assert by_question["红本本掉了咋整"].count == len(MARRIAGE)
    assert by_question["社保卡丢了咋补办"].count == len(SOCIAL)
    assert by_question["养的狗要办证吗"].count == len(DOG)
    assert groups[0].question == "红本本掉了咋整"  # the largest group first
    reasons = Counter(r for g in groups for r in g.reasons.elements())
    assert reasons["low_confidence"] == 1 and reasons["dispute"] == 1 and reasons["rated_bad"] == 1
    assert all("身份证要带啥" not in g.examples.values() for g in groups)
    masked = next(g for g in groups if "王" in g.question)
    assert inbox.usable_wordings(masked) == []


def test_a_group_published_as_questions_resolves_and_leaves_the_inbox(insight_client):
    client = insight_client
    seed(client.app.state.database)
    assert get_index().resolve("红本本掉了咋整").kind != "answer"
    admin = Operator(client, ADMIN, ADMIN_PASSWORD)
    groups = admin.get("/console/api/admin/insight/inbox").json()["groups"]
    group = next(g for g in groups if g["question"] == "红本本掉了咋整")
    item_id = get_index().kb.by_name("补领结婚证").id
    page = admin.get("/console/admin/inbox")
    assert page.status_code == 200 and "红本本掉了咋整" in page.text

    done = admin.post(f"/console/api/admin/insight/inbox/{group['key']}/publish", {"action": "question", "item_id": item_id})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["version"] == 2 and body["resolved"] == body["asked"] == len(MARRIAGE), body
    assert set(body["added"]) == {"红本本掉了咋整", "红本本搞丢了咋整", "红本本弄丢了咋个整"}  # one per wording as normalised
    assert get_index().resolve("红本本掉了咋整").entry.id == item_id  # served at once by this process
    left = [g["question"] for g in admin.get("/console/api/admin/insight/inbox").json()["groups"]]
    assert "红本本掉了咋整" not in left and "社保卡丢了咋补办" in left
    audit = admin.get("/console/api/admin/audit?action=knowledge").json()["entries"]
    assert any("发布第 2 版" in e["detail"] for e in audit)

    # asked again through the assistant: now answered about the item
    client.post("/api/chat", json={"sender": "again", "text": "红本本掉了咋整"})
    with client.app.state.database.session() as s:
        last = s.scalars(select(TurnOutcome).order_by(TurnOutcome.id.desc()).limit(1)).one()
    assert (last.outcome, last.item_name) == ("answered", "补领结婚证")

    dog = next(g for g in admin.get("/console/api/admin/insight/inbox").json()["groups"] if g["question"] == "养的狗要办证吗")
    assert admin.post(f"/console/api/admin/insight/inbox/{dog['key']}/dismiss", {"reason": "不属于政务服务事项"}).json() == {"dismissed": 2}
    assert "养的狗要办证吗" not in [g["question"] for g in admin.get("/console/api/admin/insight/inbox").json()["groups"]]
