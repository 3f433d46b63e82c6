"""Run Rasa's own command line (`rasa run ...`) with one fix: the action-server response is validated by a
JSON-schema validator compiled once, instead of `jsonschema.validate`, which re-checks Rasa's constant
schema against the meta-schema on every call. Profiling (py-spy on `rasa run`, see README "性能") showed
that check at ~48% of Rasa's CPU per turn; the validation itself (same schema, same errors) is kept.

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


if __name__ == "__main__":
    if sys.path and sys.path[0].rstrip("/").endswith("bot"):
        sys.path.pop(0)  # run by path: bot/'s modules (settings, db, ...) must not shadow Rasa's imports
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    main()
