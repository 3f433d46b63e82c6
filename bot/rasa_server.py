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

Executed by path with the Rasa environment's interpreter (`.venv-rasa/bin/python bot/rasa_server.py run ...`),
so it imports nothing from the app. Rasa 3.6 has no setting for this; a fork would be far more to keep.
"""
from __future__ import annotations

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


if __name__ == "__main__":
    if sys.path and sys.path[0].rstrip("/").endswith("bot"):
        sys.path.pop(0)  # run by path: bot/'s modules (settings, db, ...) must not shadow Rasa's imports
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    main()
