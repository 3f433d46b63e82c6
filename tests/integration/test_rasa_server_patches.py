"""bot/rasa_server.py's speed-ups, checked inside Rasa's own environment: they keep Rasa's behaviour.

Each check runs a script with `.venv-rasa`'s interpreter (the patches import Rasa, which the app's environment
does not have) and reads the JSON it prints.
"""
import json
import subprocess
import textwrap

from bot.launcher import RASA_PY, RASA_SERVER

SCRIPT = textwrap.dedent("""
    import asyncio, json, runpy, sys
    PATCHED = sys.argv[1] == "patched"
    server = runpy.run_path(sys.argv[2])  # defines install() without running `rasa`
    if PATCHED:
        server["install"]()

    from aiohttp import web
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.utils.endpoints import EndpointConfig

    async def main():
        peers, bodies = [], []

        async def webhook(request):
            peers.append(request.transport.get_extra_info("peername")[1])
            bodies.append(await request.json())
            return web.json_response({"events": [], "responses": []})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        answers = [await endpoint.request(json={"n": n}, method="post") for n in range(5)]
        await runner.cleanup()

        action = RemoteAction("action_x", endpoint)
        valid = action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
        try:
            action._validate_action_result({"events": "not a list"})
            invalid = "accepted"
        except ValidationError as error:
            invalid = error.message
        print(json.dumps({"connections": len(set(peers)), "bodies": bodies, "answers": answers,
                          "valid": valid, "invalid": invalid}))

    asyncio.run(main())
""")


def run(mode: str) -> dict:
    result = subprocess.run([str(RASA_PY), "-c", SCRIPT, mode, str(RASA_SERVER)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_action_calls_share_one_connection_and_validation_is_unchanged():
    plain, patched = run("plain"), run("patched")
    assert plain["connections"] == 5  # Rasa 3.6 alone: a new connection per action call
    assert patched["connections"] == 1  # pooled: one keep-alive connection
    for result in (plain, patched):
        assert result["bodies"] == [{"n": n} for n in range(5)]
        assert result["answers"] == [{"events": [], "responses": []}] * 5
        assert result["valid"] is True
    assert "Failed to validate Action server response" in patched["invalid"]
    assert patched["invalid"] == plain["invalid"]
