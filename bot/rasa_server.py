"""Run Rasa's own command line (`rasa run ...`) with two speed-ups that change no result:

1. The action-server response is validated by a JSON-schema validator compiled once, instead of
   `jsonschema.validate`, which re-checks Rasa's constant schema against the meta-schema on every call.
   Profiling (py-spy on `rasa run`, README "Performance") showed that check at ~48% of Rasa's CPU per
   turn; the validation itself (same schema, same errors) is kept.
2. One pooled, keep-alive HTTP session per action endpoint: Rasa 3.6 opens a new aiohttp session, hence a
   new TCP connection, for every action call (`EndpointConfig.request`), and both Rasa and the app pay for
   the connect and close on every turn.
3. An LRU cache of NLU parses by exact text and model: "你好", "谢谢", "那要多久", "在哪里办" and button
   payloads recur all day. Our NLU pipeline (jieba, count vectors, DIET, fallback, Rasa's regex handler for
   "/intent" payloads) reads only the text, never the tracker, so a parse of the same text by the same
   model is the same; each caller gets its own deep copy.
4. TED is not run when its prediction cannot win: Rasa's ensemble picks the highest confidence and, on a
   tie, the higher priority, so once the rule or memoization policy (priorities 6 and 3, TED 1) predicts
   an action with confidence 1.0, TED's answer is discarded. Those policies are run first; TED (and the
   featurisation only it needs) runs only when none of them is certain. Where the result could differ
   (a follow-up action, a rejected action, an end-to-end TED) Rasa's own prediction runs unchanged.
5. The in-memory tracker store keeps the `RASA_TRACKERS_KEPT` (10,000) most recently active conversations and
   forgets older ones (a citizen coming back after that many others starts a new Rasa session; the app keeps
   the transcript). Rasa's own store grows with every conversation until the process restarts.

Executed by path with the Rasa environment's interpreter (`.venv-rasa/bin/python bot/rasa_server.py run ...`),
so it imports nothing from the app. Rasa 3.6 has no setting for this; a fork would be far more to keep.
"""
from __future__ import annotations

import os
import sys


def install() -> None:
    from jsonschema import ValidationError, validators
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, at start-up
    validator = validator_class(schema)

    def validate_action_result(self, result: dict) -> bool:
        try:
            validator.validate(result)
            return True
        except ValidationError as error:  # the same message Rasa gives
            error.message += (". Failed to validate Action server response from API, make sure your response from the "
                              f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions")
            raise error

    RemoteAction._validate_action_result = validate_action_result
    _pool_action_connections()
    _cache_parses()
    _skip_ted_when_decided()
    _bound_tracker_store()


# Idle pooled connections are dropped before the app's server (uvicorn, 5 s keep-alive by default) would close
# them, so a request never goes out on a connection the server is closing.
KEEPALIVE_S = 3


def _pool_action_connections() -> None:
    import asyncio

    import aiohttp
    from rasa.utils import endpoints

    sessions: dict = {}

    class Borrowed:
        """`async with` yields the shared session and leaves it open (Rasa's code closes its own sessions)."""

        def __init__(self, session):
            self.session = session

        async def __aenter__(self):
            return self.session

        async def __aexit__(self, *exc) -> bool:
            return False

    def session(self) -> Borrowed:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        key = (id(asyncio.get_running_loop()), self.url, tuple(sorted(self.headers.items())), auth)
        shared = sessions.get(key)
        if shared is None or shared.closed:
            shared = sessions[key] = aiohttp.ClientSession(
                headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S))
        return Borrowed(shared)

    endpoints.EndpointConfig.session = session


PARSE_CACHE_SIZE = 20_000


def _cache_parses() -> None:
    import copy
    from collections import OrderedDict

    from rasa.core.processor import MessageProcessor

    parse = MessageProcessor._parse_message_with_graph
    cache: OrderedDict = OrderedDict()

    def cached_parse(self, message, tracker, only_output_properties: bool = True) -> dict:
        key = (self.model_metadata.model_id, message.text, only_output_properties)
        hit = cache.get(key)
        if hit is None:
            hit = cache[key] = parse(self, message, tracker, only_output_properties)
            if len(cache) > PARSE_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        return copy.deepcopy(hit)

    MessageProcessor._parse_message_with_graph = cached_parse


TED_SKIPS = {"skipped": 0, "run": 0, "rasa": 0}  # counts of the three paths; read by tests/integration/test_rasa_server_patches.py


def _skip_ted_when_decided() -> None:
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.core.policies.ted_policy import TEDPolicy
    from rasa.core.processor import MessageProcessor
    from rasa.engine.constants import PLACEHOLDER_TRACKER as PLACEHOLDER
    from rasa.engine.graph import GraphNode
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected
    from rasa.shared.nlu.constants import TEXT

    predict = MessageProcessor._predict_next_with_tracker
    plans: dict = {}

    def plan_for(processor):
        """(ensemble node, TED node name, the ensemble's other inputs) for this model, or None to use Rasa's path."""
        key = id(processor.graph_runner)
        if key not in plans:
            plans[key] = None
            runner, target = processor.graph_runner, processor.model_metadata.core_target
            nodes = getattr(runner, "_instantiated_nodes", {}) if isinstance(runner, DaskGraphRunner) else {}
            ensemble = nodes.get(target)
            if isinstance(ensemble, GraphNode):
                needs = list(ensemble._inputs.values())
                teds = [name for name in needs if name in nodes and issubclass(nodes[name]._component_class, TEDPolicy)]
                if len(teds) == 1:
                    ted = nodes[teds[0]]._component
                    if isinstance(ted, TEDPolicy) and not ted.only_e2e and TEXT not in ted.fake_features:
                        others = [name for name in needs if name in nodes and name != teds[0]]
                        plans[key] = (ensemble, teds[0], ted, others)
        return plans[key]

    def decided(predictions, ted) -> bool:
        """True when TED's prediction cannot be the ensemble's choice (DefaultPolicyPredictionEnsemble)."""
        predictions = [p for p in predictions if isinstance(p, PolicyPrediction)]
        if any(p.is_end_to_end_prediction for p in predictions):
            return False
        if any(p.is_no_user_prediction for p in predictions):
            return True  # "no user" predictions overrule TED's, which never is one
        return any(p.max_confidence >= 1.0 and p.policy_priority > ted.priority for p in predictions)

    def predict_next(self, tracker):
        plan = plan_for(self)
        last_action = next((e for e in reversed(tracker.events) if isinstance(e, (ActionExecutionRejected, ActionExecuted))), None)
        if plan is None or tracker.followup_action or isinstance(last_action, ActionExecutionRejected):
            TED_SKIPS["rasa"] += 1
            return predict(self, tracker)
        ensemble, ted_name, ted, others = plan
        inputs = {PLACEHOLDER: tracker}
        results = self.graph_runner.run(inputs=inputs, targets=others)
        if decided(results.values(), ted):
            TED_SKIPS["skipped"] += 1
            results[ted_name] = PolicyPrediction([0.0] * len(self.domain.action_names_or_texts), type(ted).__name__, ted.priority)
        else:
            TED_SKIPS["run"] += 1
            results.update(self.graph_runner.run(inputs=inputs, targets=[ted_name]))
        _, prediction = ensemble((PLACEHOLDER, tracker), *results.items())
        return prediction

    MessageProcessor._predict_next_with_tracker = predict_next


TRACKERS_KEPT = int(os.environ.get("RASA_TRACKERS_KEPT", "10000"))


def _bound_tracker_store() -> None:
    from rasa.core.tracker_store import InMemoryTrackerStore

    save = InMemoryTrackerStore.save

    async def bounded_save(self, tracker) -> None:
        await save(self, tracker)
        self.store[tracker.sender_id] = self.store.pop(tracker.sender_id)  # to the end: least recently saved first
        while len(self.store) > TRACKERS_KEPT:
            del self.store[next(iter(self.store))]

    InMemoryTrackerStore.save = bounded_save


if __name__ == "__main__":
    if sys.path and sys.path[0].rstrip("/").endswith("bot"):
        sys.path.pop(0)  # run by path: bot/'s modules (settings, db, ...) must not shadow Rasa's imports
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    main()
