"""The loop on the real model: a question the assistant misses shows in the review inbox, an admin adds it as 常见问法
of an item and publishes a version, and the same question asked again is answered about that item."""
import httpx

from tests.integration.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD
from tests.integration.console_helpers import ConsoleUser

MISSED = ["红本本掉了咋整", "红本本搞丢了咋整", "红本本弄丢了咋个整"]


def ask(base: str, sender: str, text: str) -> str:
    response = httpx.post(f"{base}/api/chat", json={"sender": sender, "text": text}, timeout=60)
    assert response.status_code == 200, response.text
    return "\n".join(r["text"] for r in response.json()["replies"])


def test_missed_question_added_as_question_and_published_now_answers(console_stack):
    base = console_stack.url
    before = [ask(base, f"loop-{n}", text) for n, text in enumerate(MISSED)]
    assert not any("补领结婚证" in reply for reply in before), before
    admin = ConsoleUser(base, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    try:
        groups = admin.get("/console/api/admin/insight/inbox").json()["groups"]
        group = next(g for g in groups if "红本本" in g["question"])
        assert group["count"] >= len(MISSED) and "未找到" in group["reasons"], group
        item_id = httpx.get(f"{base}/api/guides/search", params={"q": "补领结婚证", "top": 1}).json()[0]["id"]
        done = admin.post(f"/console/api/admin/insight/inbox/{group['key']}/publish",
                          {"action": "question", "item_id": item_id, "reason": "待复核：红本本的问法"})
        assert done.status_code == 200, done.text
        assert done.json()["resolved"] == done.json()["asked"] >= len(MISSED), done.json()
        assert not any("红本本" in g["question"] for g in admin.get("/console/api/admin/insight/inbox").json()["groups"])
    finally:
        admin.close()
    after = ask(base, "loop-again", "红本本掉了咋整")
    assert "补领结婚证" in after, after
