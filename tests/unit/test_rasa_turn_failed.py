"""A turn that fails inside Rasa (tracker or lock store unreachable) is marked by bot/rasa_server.py (11.) and read by
the app as "Rasa unavailable": the citizen is told and the message kept, rather than answered "did not understand"."""
import asyncio
import json
import subprocess

import httpx
import pytest
from support import ROOT

from bot.rasa_client import RasaClient, RasaUnavailable

RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"

# Rasa's own REST channel, patched, with a turn handler that fails after a first message and one that does not.
SCRIPT = """
import asyncio, json, sys
from types import SimpleNamespace
sys.path.insert(0, "bot")
import rasa_server
rasa_server._mark_failed_rest_turns()
from rasa.core.channels.rest import RestInput

async def failing(message):
    await message.output_channel.send_text_message(message.sender_id, "half")
    raise RuntimeError("lock store down")

async def fine(message):
    await message.output_channel.send_text_message(message.sender_id, "ok")

async def main():
    out = {}
    for name, handler in (("failing", failing), ("fine", fine)):
        route = next(r for r in RestInput().blueprint(handler)._future_routes if r.uri == "/webhook")
        response = await route.handler(SimpleNamespace(json={"sender": "s", "message": "hi"}, args={}, headers={}))
        out[name] = json.loads(response.body)
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.skipif(not RASA_PY.exists(), reason="Rasa's environment is made by make model")
def test_rasas_rest_channel_marks_a_failed_turn_and_leaves_others_alone():
    run = subprocess.run([str(RASA_PY), "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    answers = json.loads(run.stdout.strip().splitlines()[-1])
    assert answers["failing"] == [{"recipient_id": "s", "text": "half"}, {"recipient_id": "s", "custom": {"turn_failed": True}}]
    assert answers["fine"] == [{"recipient_id": "s", "text": "ok"}]


def test_the_client_reads_the_mark_as_rasa_unavailable():
    def rasa(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"recipient_id": "s", "custom": {"turn_failed": True}}])

    async def send():
        client = RasaClient("http://rasa.test", transport=httpx.MockTransport(rasa))
        try:
            await client.send("s", "你好")
        finally:
            await client.aclose()

    with pytest.raises(RasaUnavailable, match="could not handle the turn"):
        asyncio.run(send())
