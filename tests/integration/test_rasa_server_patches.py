"""bot/rasa_server.py's speed-ups, checked inside Rasa's own environment: they keep Rasa's behaviour.

Each check runs a script with `.venv-rasa`'s interpreter (the patches import Rasa, which the app's environment
does not have) and reads the JSON it prints.
"""
import json
import subprocess
import textwrap

from bot.launcher import MODEL, RASA_PY, RASA_SERVER, ROOT

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


PREDICTIONS = textwrap.dedent("""
    import json, logging, runpy, sys
    import structlog
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.disable(logging.WARNING)
    server = runpy.run_path(sys.argv[1])
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor
    from rasa.core.training import load_data
    from rasa.shared.core.constants import RULE_SNIPPET_ACTION_NAME
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.importers.importer import TrainingDataImporter

    agent = Agent.load(sys.argv[2])
    processor, domain = agent.processor, agent.domain
    importer = TrainingDataImporter.load_from_dict(domain_path="domain.yml", training_data_paths=["nlu_data"])
    trackers = load_data(importer, domain, augmentation_factor=0)

    def points():  # every point of every story and rule at which Rasa predicts an action
        for training in trackers:
            events = [e for e in training.events
                      if not (isinstance(e, ActionExecuted) and e.action_name == RULE_SNIPPET_ACTION_NAME)]
            for i, event in enumerate(events):
                if isinstance(event, ActionExecuted) and i:
                    yield events[:i]

    def states():
        # The training points, which memoization knows by heart, and the same points with the last message's
        # intent replaced by other intents: states no story holds, where rules or TED must decide.
        intents = sorted(domain.intents)
        for events in points():
            yield events
            last = max((i for i, e in enumerate(events) if isinstance(e, UserUttered)), default=None)
            if last is not None and last >= len(events) - 3:
                for intent in intents[len(events) % 4::4]:  # a quarter of them, so the test stays short
                    if intent != events[last].intent_name:
                        yield events[:last] + [UserUttered(intent={"name": intent, "confidence": 1.0})] + events[last + 1:]

    def summary(prediction):
        return [prediction.policy_name, prediction.policy_priority, [round(p, 6) for p in prediction.probabilities],
                [str(e) for e in prediction.events], [str(e) for e in prediction.optional_events or []],
                prediction.is_no_user_prediction, prediction.is_end_to_end_prediction, prediction.hide_rule_turn]

    plain = MessageProcessor._predict_next_with_tracker
    server["_skip_ted_when_decided"]()
    patched = MessageProcessor._predict_next_with_tracker
    assert patched is not plain
    compared, differ = 0, []
    for events in states():
        tracker = DialogueStateTracker.from_events("s", events, slots=domain.slots)
        a, b = plain(processor, tracker.copy()), patched(processor, tracker.copy())
        compared += 1
        if summary(a) != summary(b):
            differ.append([str(tracker.events[-3:]), summary(a)[:2], summary(b)[:2]])
    print(json.dumps({"compared": compared, "differ": differ[:5], "n_differ": len(differ), **server["TED_SKIPS"]}))
""")


def test_predictions_without_ted_when_decided_are_rasas_own():
    """Every prediction point of the training stories and rules gets the same prediction (action, confidences,
    policy, events) from the patched path as from Rasa's, and most of them skip TED."""
    result = subprocess.run([str(RASA_PY), "-c", PREDICTIONS, str(RASA_SERVER), str(MODEL)],
                            capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["compared"] > 500
    assert found["n_differ"] == 0, found["differ"]
    assert found["skipped"] + found["run"] + found["rasa"] == found["compared"]
    assert found["skipped"] > found["compared"] / 2  # what the patch saves: TED is not run at these points
    assert found["run"] > 0  # and TED still decides where rules and memory are not certain


TRACKERS = textwrap.dedent("""
    import asyncio, json, os, runpy, sys
    os.environ["RASA_TRACKERS_KEPT"] = "3"
    server = runpy.run_path(sys.argv[2])
    if sys.argv[1] == "patched":
        server["_bound_tracker_store"]()
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    async def main():
        store = InMemoryTrackerStore(Domain.empty())
        for sender in ["a", "b", "c", "a", "d"]:
            tracker = await store.retrieve(sender) or DialogueStateTracker(sender, [])
            tracker.update(UserUttered(f"{sender}-text"))
            await store.save(tracker)
        a = await store.retrieve("a")
        print(json.dumps({"kept": list(await store.keys()), "a_texts": [e.text for e in a.events if isinstance(e, UserUttered)]}))

    asyncio.run(main())
""")


def test_tracker_store_keeps_the_most_recently_active_conversations():
    found = {}
    for mode in ("plain", "patched"):
        result = subprocess.run([str(RASA_PY), "-c", TRACKERS, mode, str(RASA_SERVER)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        found[mode] = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["plain"]["kept"] == ["a", "b", "c", "d"]  # Rasa alone: every conversation, for ever
    assert found["patched"]["kept"] == ["c", "a", "d"]  # "b" was the least recently active
    assert found["patched"]["a_texts"] == found["plain"]["a_texts"] == ["a-text", "a-text"]
