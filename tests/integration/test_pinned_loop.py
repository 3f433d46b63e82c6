"""Pinned answers on the real model: questions the assistant misses show as one review-inbox group, an admin publishes
a pinned answer (人工干预) for them, the same question asked again gets staff's answer before any search, and rolling
the knowledge back to the version before removes it (served by the app within seconds)."""
import time

import httpx

from tests.integration.conftest import CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD
from tests.integration.console_helpers import ConsoleUser

MISSED = ["城南菜市场几点关门", "城南菜市场晚上几点关门", "城南的菜市场几点关门"]
ANSWER = "城南农贸市场由县市场监管局管理，每天早上六点至晚上七点营业，具体以市场公告为准。"
STAFF = "【工作人员答复】"


def ask(base: str, sender: str, text: str) -> str:
    response = httpx.post(f"{base}/api/chat", json={"sender": sender, "text": text}, timeout=60)
    assert response.status_code == 200, response.text
    return "\n".join(r["text"] or "" for r in response.json()["replies"])


def test_missed_question_pinned_and_published_gets_staffs_answer_until_rolled_back(console_stack):
    base = console_stack.url
    before = [ask(base, f"pin-{n}", text) for n, text in enumerate(MISSED)]
    assert not any(STAFF in reply for reply in before), before
    admin = ConsoleUser(base, CONSOLE_ADMIN, CONSOLE_ADMIN_PASSWORD)
    try:
        groups = admin.get("/console/api/admin/insight/inbox").json()["groups"]
        group = next(g for g in groups if "菜市场" in g["question"])
        assert group["count"] >= len(MISSED), group
        url = f"/console/api/admin/insight/inbox/{group['key']}/pin"
        preview = admin.post(url + "/preview", {"answer": ANSWER})
        assert preview.status_code == 200 and preview.json()["reply"].startswith(STAFF + ANSWER), preview.text
        done = admin.post(url, {"answer": ANSWER, "reason": "待复核：菜市场营业时间"})
        assert done.status_code == 200, done.text
        assert done.json()["resolved"] == done.json()["asked"] >= len(MISSED), done.json()
        assert not any("菜市场" in g["question"] for g in admin.get("/console/api/admin/insight/inbox").json()["groups"])

        after = ask(base, "pin-again", "城南菜市场几点关门嘛")
        assert after.startswith(STAFF + ANSWER) and "工作人员审核发布" in after, after

        rolled = admin.post("/console/api/admin/knowledge/rollback", {"number": done.json()["version"] - 1, "reason": "撤下人工答复"})
        assert rolled.status_code == 200, rolled.text
    finally:
        admin.close()
    deadline, reply = time.monotonic() + 20, after
    while STAFF in reply and time.monotonic() < deadline:  # the app serves the rolled-back version within seconds
        time.sleep(1)
        reply = ask(base, f"pin-rolled-{time.monotonic()}", "城南菜市场几点关门")
    assert STAFF not in reply, reply
