"""Compacting a long conversation's Rasa tracker changes nothing the citizen sees: the same script through the
real app and the real trained model, once plain and once compacted twice (once in the middle of the booking
form), gives the same replies turn by turn, and the compacted tracker holds far fewer events."""
import asyncio

import httpx

from bot.conversations import compaction
from bot.rasa_client import RasaClient

SCRIPT = ["你好", "身份证丢了要带什么去补办", "那要多久", "在哪里办", "COMPACT 2", "要钱不", "办证", "第一个",
          "我上班没空，周六能不能去办身份证", "BUTTON", "COMPACT 1", "张三", "算了，不约了", "那要多久", "在哪里办", "谢谢"]


def run(coroutine):
    return asyncio.new_event_loop().run_until_complete(coroutine)


async def compact(stack, sender: str, keep_turns: int) -> int:
    rasa = RasaClient(f"http://127.0.0.1:{stack.rasa_port}", timeout=30)
    try:
        return await compaction.compact(rasa, sender, keep_turns=keep_turns)
    finally:
        await rasa.aclose()


def tracker(stack, sender: str) -> dict:
    return httpx.get(f"http://127.0.0.1:{stack.rasa_port}/conversations/{sender}/tracker", timeout=30).json()


def test_compaction_keeps_every_reply_and_the_dialogue_state(stack):
    client = httpx.Client(base_url=stack.url, timeout=30)
    plain, compacted = f"plain-{id(client)}", f"compacted-{id(client)}"
    transcripts = {plain: [], compacted: []}
    rasa_ids, dropped = {}, []

    def say(sender, text):
        response = client.post("/api/chat", json={"sender": sender, "text": text})
        assert response.status_code == 200, response.text
        rasa_ids[sender] = response.json()["conversation_id"]  # Rasa's sender id is the app's conversation id
        replies = [(r["text"], [b["payload"] for b in r["buttons"]]) for r in response.json()["replies"]]
        transcripts[sender].append((text, replies))
        return replies

    in_form = False
    for step in SCRIPT:
        if step.startswith("COMPACT"):  # keep 1 turn: the cut falls inside the booking form
            dropped.append(run(compact(stack, rasa_ids[compacted], keep_turns=int(step.split()[1]))))
            continue
        text = step
        if step == "BUTTON":  # the first option the plain conversation was offered
            text = next(p for _, buttons in transcripts[plain][-1][1] for p in buttons)
        assert say(plain, text) == say(compacted, text), f"replies differ at {text!r}"
        if "姓名" in " ".join(t for t, _ in transcripts[plain][-1][1]):
            in_form = True
    assert in_form, transcripts[plain]
    assert all(n > 0 for n in dropped), dropped
    long, short = tracker(stack, rasa_ids[plain]), tracker(stack, rasa_ids[compacted])
    assert len(short["events"]) < len(long["events"]) - sum(dropped) // 2
    # the same form active ("谢谢" ends in the rating form; its trigger message has each conversation's own id)
    assert short["slots"] == long["slots"] and (short["active_loop"] or {}).get("name") == (long["active_loop"] or {}).get("name")
    assert short["slots"]["item"], "the item in context survived the compactions"
    client.close()
