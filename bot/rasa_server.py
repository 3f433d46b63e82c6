"""Run Rasa's own command line (`rasa run ...`) with speed-ups and memory savings that change no result:

1. The action-server response is validated by a JSON-schema validator compiled once, instead of
   `jsonschema.validate`, which re-checks Rasa's constant schema against the meta-schema on every call.
   Profiling (py-spy on `rasa run`, docs/performance.md) showed that check at ~48% of Rasa's CPU per
   turn; the validation itself (same schema, same errors) is kept. Each event is checked only against the
   schema branches for its own event type (`valid_by_event_type`), with the same answer.
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
6. Event classes are looked up by type name in a table, each name's class found once: Rasa's `Event.resolve_by_type` walks
   every Event subclass (recursively, with an `inspect.isabstract` check each) for every event it reads, and
   it reads every event of a tracker on every turn (the in-memory store keeps trackers as JSON) and of every
   action response; profiling showed ~8% of Rasa's CPU per turn there.
7. JAX is not imported. TensorFlow 2.12 depends on it and `tensorflow.lite.python.util` imports it if present,
   only to convert JAX functions to TFLite, which Rasa never does; that import costs ~100 MB resident memory
   and ~0.5 s of start-up. TensorFlow handles its absence itself (`except ImportError`).
8. Trackers are written as JSON by ujson (a dependency of Rasa already) instead of the json module, both into
   the in-memory tracker store on every save and into the body of every action call: json's encoder was the
   largest single cost left in Rasa's profile (~8%). The JSON means the same (ujson writes it without spaces
   and non-ASCII unescaped); anything ujson cannot write goes to `json.dumps` as before.
9. Rasa's model graph (the NLU pipeline on a parse, the policies on a prediction) is run by a plain walk from
   the targets through their inputs instead of `dask.get`: the same nodes, called with the same inputs, once
   each. Rasa runs the graph several times per turn and dask's local scheduler (building the task graph,
   ordering, bookkeeping) took ~13% of Rasa's CPU per turn outside the nodes themselves.
10. The Redis lock store (the production profile, deploy/rasa-endpoints.yml) retries a Redis command for up to 8 s
   when the connection fails, instead of failing the turn at once: a Redis restart takes about a second, and
   Rasa's REST channel answers a failed turn with no messages at all (the citizen would read "did not
   understand"). Only what happens while Redis is unreachable changes (the turns wait for it).
11. A turn that fails inside Rasa (its tracker store or lock store unreachable, any other exception) ends the REST
   channel's answer with the custom message {"turn_failed": true} (`TURN_FAILED`), where Rasa's REST channel
   answered only the messages collected so far, often none: the app then tells the citizen that the assistant is
   unavailable and keeps the message (bot/rasa_client.py), instead of answering "did not understand". Turns that
   do not fail are answered exactly as before.
12. DIET and TED are loaded without a training step. Rasa 3.6 builds a loaded model's weights by training it on one
   example (`RasaModel.load`: `model.fit`), then overwrites every weight from the checkpoint; the traced training
   graph, its gradients and the optimizer's state stay in memory for the life of the process (about 310 MB of
   Rasa's 1,000 here). Here the model predicts once on the example Rasa keeps for that purpose, which creates the
   weights the prediction uses, each restored from the checkpoint as it is created; a weight missing from the
   checkpoint stops the start (`assert_existing_objects_matched`). Fine-tuning (`rasa train --finetune`) and a model
   without a prediction example load as before.
13. The states of a tracker's history are read once per tracker and shared by the policies. Each policy (rules,
   memoization, TED) asks the domain for the states of the whole history (`Domain.states_for_tracker_history`),
   and the rule policy asks twice after a message (by text, then by intent): Rasa replays every event of the
   tracker each time, about a quarter of its CPU per turn. The replay is done once for a tracker whose events
   have not changed, and each call builds its states from it with Rasa's own steps (hidden rule turns, rule-only
   features), on copies, so a caller that changes its states changes no other caller's.
14. The rule policy matches its rules against a conversation's states with each rule's states reversed once, not on
   every check: Rasa builds the reversed list of a rule's states for every rule at every turn of the history it
   checks, and keeps checking every remaining turn after the longest remaining rule is behind it, where every check
   answers yes. Here it stops there, with the same rules left.
15. A tracker's slots are copied by copying each slot's attributes, where Rasa calls `copy.copy` on each of the
   domain's 43 slots every time it makes a tracker (reading one from the store, before every action, replaying the
   history): the same new objects by a shorter road (`copy.copy` of a plain object goes through `__reduce_ex__` and
   `copyreg`); those copies were about 6% of Rasa's CPU per turn, a third of that is left. A slot class with its own
   way of copying or pickling, or with slots named in `__slots__`, is copied by `copy.copy` as before.
16. Events posted to Rasa's HTTP API (the app's tracker compaction replaces a conversation's events) are checked with
   the validator of 1. (compiled once, each event against the branches of its own type): Rasa's
   `validate_events_in_request_body` calls `jsonschema.validate`, re-checking the schema against the meta-schema and
   trying every branch for every event, about 40 ms for a compaction of some 150 events. An event list it would
   reject goes to Rasa's own function, for Rasa's error.

Executed by path with the Rasa environment's interpreter (`.venv-rasa/bin/python bot/rasa_server.py run ...`),
so it imports nothing from the app. Rasa 3.6 has no setting for this; a fork would be far more to keep.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import ujson  # a dependency of Rasa's; this file runs only with Rasa's interpreter


def install() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, at start-up
    validator = validator_class(schema)
    is_valid = valid_by_event_type(schema, validator_class)

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        if is_valid(result):
            return True
        error = best_match(validator.iter_errors(result))  # the error `jsonschema.validate` raises, as Rasa calls it
        if error is None:
            return True
        error.message += (". Failed to validate Action server response from API, make sure your response from the "  # Rasa's words
                          f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions")
        raise error

    RemoteAction._validate_action_result = validate_action_result
    _pool_action_connections()
    _cache_parses()
    _skip_ted_when_decided()
    _bound_tracker_store()
    _index_event_types()
    _write_trackers_with_ujson()
    _run_graphs_without_dask()
    _retry_redis_lock_store()
    _mark_failed_rest_turns()
    _load_models_without_a_training_step()
    _share_tracker_states()
    _match_rules_with_reversed_states()
    _copy_slots_by_attributes()
    _validate_posted_events_compiled()


# Idle pooled connections are dropped before the app's server (uvicorn, 5 s keep-alive by default) would close
# them, so a request never goes out on a connection the server is closing.
KEEPALIVE_S = 3


def valid_by_event_type(schema: dict[str, Any], validator_class: Any) -> Callable[[dict[str, Any]], bool]:
    """A faster test of the same validity (see 1. above) of an action server's response: the response's outer
    schema, then each event as `event_valid_by_type` checks it. A False sends the response to the full validator,
    for Rasa's error."""
    import copy

    outer = copy.deepcopy(schema)
    del outer["properties"]["events"]["items"]
    outer_validator = validator_class(outer)
    event_valid = event_valid_by_type(schema["properties"]["events"]["items"], validator_class)

    def is_valid(result: dict[str, Any]) -> bool:
        return bool(outer_validator.is_valid(result)) and all(event_valid(event) for event in result.get("events", []))

    return is_valid


def event_valid_by_type(items: dict[str, Any], validator_class: Any) -> Callable[[Any], bool]:
    """Whether one event matches Rasa's event schema `items`. Each event must match exactly one branch of its `oneOf`,
    and every branch but one or two pins `event` to a constant, so jsonschema tries some thirty branches per event,
    building an error object for each that fails. Branches whose constant is not the event's type cannot match it
    (`event` is required and a string, checked first), so counting matches among the rest gives the same answer."""
    from collections import defaultdict

    base_validator = validator_class({k: v for k, v in items.items() if k != "oneOf"})
    by_type: defaultdict[str, list[Any]] = defaultdict(list)
    untyped: list[Any] = []
    for branch in items["oneOf"]:
        const = branch.get("properties", {}).get("event", {}).get("const")
        (by_type[const] if isinstance(const, str) else untyped).append(validator_class(branch))

    def is_valid(event: Any) -> bool:
        if not base_validator.is_valid(event):
            return False
        return len([branch for branch in by_type.get(event["event"], []) + untyped if branch.is_valid(event)]) == 1

    return is_valid


def _validate_posted_events_compiled() -> None:
    """See 16. above."""
    import rasa.server
    from jsonschema import validators

    validate = rasa.server.validate_events_in_request_body
    schema = rasa.server.EVENTS_SCHEMA
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, at start-up
    event_valid = event_valid_by_type(schema["items"], validator_class)

    def validate_events(request: Any) -> None:
        events = request.json if isinstance(request.json, list) else [request.json]
        if not all(event_valid(event) for event in events):
            validate(request)  # Rasa's own check, for its error

    rasa.server.validate_events_in_request_body = validate_events


def _pool_action_connections() -> None:
    import asyncio

    import aiohttp
    from rasa.utils import endpoints

    sessions: dict[tuple[Any, ...], aiohttp.ClientSession] = {}

    class Borrowed:
        """`async with` yields the shared session and leaves it open (Rasa's code closes its own sessions)."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self.session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self.session

        async def __aexit__(self, *exc: object) -> bool:
            return False

    def session(self: Any) -> Borrowed:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        key = (id(asyncio.get_running_loop()), self.url, tuple(sorted(self.headers.items())), auth)
        shared = sessions.get(key)
        if shared is None or shared.closed:
            shared = sessions[key] = aiohttp.ClientSession(
                headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S), json_serialize=dumps)
        return Borrowed(shared)

    endpoints.EndpointConfig.session = session


PARSE_CACHE_SIZE = 20_000


def _cache_parses() -> None:
    import copy
    from collections import OrderedDict

    from rasa.core.processor import MessageProcessor

    parse = MessageProcessor._parse_message_with_graph
    cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()

    def cached_parse(self: Any, message: Any, tracker: Any, only_output_properties: bool = True) -> dict[str, Any]:
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
    plans: dict[int, tuple[Any, str, Any, list[str]] | None] = {}

    def plan_for(processor: Any) -> tuple[Any, str, Any, list[str]] | None:
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

    def decided(predictions: Iterable[Any], ted: Any) -> bool:
        """True when TED's prediction cannot be the ensemble's choice (DefaultPolicyPredictionEnsemble)."""
        predictions = [p for p in predictions if isinstance(p, PolicyPrediction)]
        if any(p.is_end_to_end_prediction for p in predictions):
            return False
        if any(p.is_no_user_prediction for p in predictions):
            return True  # "no user" predictions overrule TED's, which never is one
        return any(p.max_confidence >= 1.0 and p.policy_priority > ted.priority for p in predictions)

    def predict_next(self: Any, tracker: Any) -> Any:
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

    async def bounded_save(self: Any, tracker: Any) -> None:
        await save(self, tracker)
        self.store[tracker.sender_id] = self.store.pop(tracker.sender_id)  # to the end: least recently saved first
        while len(self.store) > TRACKERS_KEPT:
            del self.store[next(iter(self.store))]

    InMemoryTrackerStore.save = bounded_save


def dumps(value: object) -> str:
    """JSON text of `value` by ujson, or by `json.dumps` (as Rasa does) for what ujson cannot write (see 8. above)."""
    try:
        return ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False)
    except (TypeError, OverflowError, ValueError):
        return json.dumps(value)


def _write_trackers_with_ujson() -> None:
    from rasa.core.tracker_store import InMemoryTrackerStore

    InMemoryTrackerStore.serialise_tracker = staticmethod(lambda tracker: dumps(tracker.as_dialogue().as_dict()))


def _index_event_types() -> None:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    resolve = Event.resolve_by_type
    found: dict[str, Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        """Rasa's answer: the first Event subclass with this type name, in Rasa's order, remembered once found
        (event classes do not change while serving); a name no class has goes to Rasa's own code every time."""
        cls = found.get(type_name)
        if cls is None:
            cls = next((c for c in all_subclasses(Event) if c.type_name == type_name), None)
            if cls is None:
                return resolve(type_name, default)
            found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _run_graphs_without_dask() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(self: Any, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict[str, Any]:
        """DaskGraphRunner.run without dask (see 9. above): {target: output} for the targets (default: the schema's)."""
        run_targets = targets if targets else self._graph_schema.target_names
        schemas = self.__dict__.setdefault("_minimal_schemas", {})
        schema = schemas.get(tuple(run_targets))
        if schema is None:
            schema = schemas[tuple(run_targets)] = self._graph_schema.minimal_graph_schema(run_targets)
        names = set(schema.nodes)
        for name, value in (inputs or {}).items():  # Rasa's own check (_add_inputs_to_graph)
            if isinstance(value, str) and value in names:
                raise GraphRunError(f"Input value '{value}' clashes with a node name. Make sure that none of the input "
                                    "names passed to the `run` method are the same as node names in the graph schema.")
            names.add(name)
        results = {name: (name, value) for name, value in (inputs or {}).items()}  # an input replaces a node of its name

        def output(name: str) -> Any:
            if name not in results:
                node = schema.nodes.get(name)
                if node is None:
                    return name  # as dask passes a name that is no task: itself
                results[name] = self._instantiated_nodes[name](*[output(need) for need in node.needs.values()])
            return results[name]

        try:
            return dict(output(target) for target in run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run


LOCK_STORE_RETRY_SECONDS = 8.0  # how long a lock-store command is retried while Redis is unreachable (see 10. above)


class _RetryingRedis:
    """The lock store's Redis client, whose get/set/delete are tried again (50 ms, doubling to 0.5 s) for up to
    LOCK_STORE_RETRY_SECONDS while the connection fails (redis-py 4.6 retries a command, but not the connect)."""

    def __init__(self, client: Any, errors: tuple[type[Exception], ...]) -> None:
        self.client, self.errors = client, errors

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if name not in ("get", "set", "delete"):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            delay, deadline = 0.05, time.monotonic() + LOCK_STORE_RETRY_SECONDS
            while True:
                try:
                    return method(*args, **kwargs)
                except self.errors:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)

        return call


def _retry_redis_lock_store() -> None:
    from rasa.core.lock_store import RedisLockStore
    from redis.exceptions import ConnectionError, TimeoutError

    original = RedisLockStore.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.red = _RetryingRedis(self.red, (ConnectionError, TimeoutError))

    RedisLockStore.__init__ = init


TURN_FAILED = {"turn_failed": True}  # bot/rasa_client.py reads it (see 11. above)


def _mark_failed_rest_turns() -> None:
    from rasa.core.channels.rest import RestInput

    original = RestInput.blueprint

    def blueprint(self: Any, on_new_message: Callable[[Any], Awaitable[None]]) -> Any:
        async def handle(message: Any) -> None:
            try:
                await on_new_message(message)
            except Exception:
                await message.output_channel.send_custom_json(message.sender_id, dict(TURN_FAILED))
                raise  # Rasa's REST channel logs it and answers what was collected, the mark included

        return original(self, handle)

    RestInput.blueprint = blueprint


def _load_models_without_a_training_step() -> None:
    """See 12. above."""
    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
    from rasa.utils.tensorflow.models import RasaModel

    original = RasaModel.load.__func__  # the classmethod's function

    def load(cls: Any, model_file_name: str, model_data_example: Any, predict_data_example: Any = None, finetune_mode: bool = False,
             *args: Any, **kwargs: Any) -> Any:
        if finetune_mode or not predict_data_example:
            return original(cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs)
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)), run_eagerly=config.get(RUN_EAGERLY))
        restored = model.load_weights(model_file_name)
        model.run_inference(predict_data_example)  # what Rasa's load also does last, to trace the prediction once
        restored.assert_existing_objects_matched()
        restored.expect_partial()  # the optimizer's state in the checkpoint is for training only
        return model

    RasaModel.load = classmethod(load)


STATES_READ = {"replayed": 0, "shared": 0}  # how often a history was replayed, and how often a replay was reused


def _share_tracker_states() -> None:
    """See 13. above."""
    from rasa.shared.core.constants import PREVIOUS_ACTION
    from rasa.shared.core.domain import Domain

    last: dict[str, Any] = {}  # the one tracker replayed last, kept alive so that the ids in its key stay its own

    def replay(domain: Any, tracker: Any, omit_unset_slots: bool) -> list[tuple[Any, Any, bool, bool]]:
        """Per prior tracker, as `generate_all_prior_trackers` yields it: its state, its latest action, whether its
        hidden flag carries over (a follow-up action or the active loop's own turn), and the turn's hide flag."""
        events = list(tracker.events)
        key = (id(domain), id(tracker), omit_unset_slots, tuple(map(id, events)))
        if last.get("key") == key:
            STATES_READ["shared"] += 1
            shared: list[tuple[Any, Any, bool, bool]] = last["records"]
            return shared
        records = [(domain.get_active_state(tr, omit_unset_slots=omit_unset_slots), tr.latest_action,
                    bool(tr.followup_action) or tr.latest_action_name == tr.active_loop_name, hide)
                   for tr, hide in tracker.generate_all_prior_trackers()]
        last.update(key=key, records=records, alive=(domain, tracker, events))
        STATES_READ["replayed"] += 1
        return records

    def states_for_tracker_history(self: Any, tracker: Any, omit_unset_slots: bool = False, ignore_rule_only_turns: bool = False,
                                   rule_only_data: dict[str, Any] | None = None) -> list[Any]:
        """Rasa's `Domain.states_for_tracker_history`, step for step, on the shared replay."""
        states: list[Any] = []
        last_ml_action_sub_state = None
        turn_was_hidden = False
        for active, latest_action, keeps_hidden, hide_rule_turn in replay(self, tracker, omit_unset_slots):
            if ignore_rule_only_turns:
                if not turn_was_hidden:  # the previous ML action: that of the last turn not hidden
                    last_ml_action_sub_state = dict(latest_action) if latest_action is not None else None
                if not keeps_hidden:
                    turn_was_hidden = hide_rule_turn
                if turn_was_hidden:
                    continue
            state = {kind: dict(sub_state) for kind, sub_state in active.items()}  # values are strings and tuples
            if ignore_rule_only_turns:
                self._remove_rule_only_features(state, rule_only_data)
                if states:
                    self._substitute_rule_only_user_input(state, states[-1])
                if last_ml_action_sub_state:
                    state[PREVIOUS_ACTION] = last_ml_action_sub_state
            states.append(self._clean_state(state))
        return states

    Domain.states_for_tracker_history = states_for_tracker_history


def _match_rules_with_reversed_states() -> None:
    """See 14. above."""
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.constants import PREVIOUS_ACTION

    reversed_states: dict[str, list[Any]] = {}

    def reversed_rule(self: Any, rule_key: str) -> list[Any]:
        found = reversed_states.get(rule_key)
        if found is None:
            found = reversed_states[rule_key] = list(reversed(self._rule_key_to_state(rule_key)))
        return found

    def is_rule_applicable(self: Any, rule_key: str, turn_index: int, conversation_state: Any) -> bool:
        """Rasa's `RulePolicy._is_rule_applicable`, step for step, on the rule's states reversed once."""
        rule_states = reversed_rule(self, rule_key)
        if turn_index >= len(rule_states):
            return True
        current_previous_action = conversation_state.get(PREVIOUS_ACTION)
        rule_previous_action = rule_states[turn_index].get(PREVIOUS_ACTION)
        if not rule_previous_action and not current_previous_action:
            return True
        if not rule_previous_action or not current_previous_action:
            return False
        return bool(self._does_rule_match_state(rule_states[turn_index], conversation_state))

    def get_possible_keys(self: Any, lookup: dict[str, str], states: list[Any]) -> set[str]:
        """Rasa's `RulePolicy._get_possible_keys`: the rules that match the states from the last one back, until every
        rule left is shorter than the turns checked (each further check would keep it)."""
        possible_keys = set(lookup.keys())
        for i, state in enumerate(reversed(states)):
            if i >= max((len(reversed_rule(self, key)) for key in possible_keys), default=0):
                break
            possible_keys = {key for key in possible_keys if self._is_rule_applicable(key, i, state)}
        return possible_keys

    RulePolicy._is_rule_applicable = is_rule_applicable
    RulePolicy._get_possible_keys = get_possible_keys


def copies_by_attributes(cls: type) -> bool:
    """Whether `copy.copy` of an instance of `cls` makes a new instance with the same `__dict__` and nothing else:
    no `__copy__`, no pickling hooks of its own, no slot named in a `__slots__` of its classes (see 15. above)."""
    hooks = ("__copy__", "__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__", "__getnewargs_ex__")
    return all(not any(hook in vars(c) for hook in hooks) and not vars(c).get("__slots__")  # `abc.ABC`'s are ()
               for c in cls.__mro__ if c is not object)


def _copy_slots_by_attributes() -> None:
    """See 15. above. `DialogueStateTracker.__init__` is Rasa's own; only the `copy` it calls is this one."""
    import copy
    import types

    import rasa.shared.core.trackers as trackers

    plain: dict[type, bool] = {}

    def copy_slot(value: Any) -> Any:
        cls = type(value)
        known = plain.get(cls)
        if known is None:
            known = plain[cls] = copies_by_attributes(cls)
        if not known:
            return copy.copy(value)
        new = object.__new__(cls)
        new.__dict__.update(value.__dict__)
        return new

    module = types.ModuleType("copy", "The copy module, with `copy` for a tracker's slots (bot/rasa_server.py, 15.).")
    module.__dict__.update({k: v for k, v in vars(copy).items() if not k.startswith("__")})
    module.copy = copy_slot  # type: ignore[attr-defined]
    trackers.copy = module


def block_jax() -> None:
    """`import jax` raises ImportError in this process (see 7. above)."""
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]  # None blocks an import (documented); typeshed wants a module


if __name__ == "__main__":
    if sys.path and sys.path[0].rstrip("/").endswith("bot"):
        sys.path.pop(0)  # run by path: bot/'s modules (settings, db, ...) must not shadow Rasa's imports
    block_jax()
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    main()
