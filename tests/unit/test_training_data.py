"""Rasa's own check of the domain and training data is clean (forms' utter_ask_* are used implicitly)."""
import os
import re
import subprocess

from support import ROOT


def test_rasa_data_validate_is_clean():
    result = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "data", "validate", "--domain", "domain.yml", "--data", "nlu_data",
         "--config", "config.yml"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if "UserWarning" in line]
    # forms' utter_ask_* are used implicitly; greet, chitchat and out-of-scope responses by action_small_talk, the
    # goodbye by action_goodbye, thanks / yes / no by action_acknowledge
    used_by_actions = r"utter_ask_\w+|utter_greet|utter_chitchat|utter_out_of_scope|utter_goodbye|utter_thanks|utter_affirm|utter_deny"
    # intents the app sends in place of a message or triggers, never said by citizens (bot/handoff/desk.py, invitations.py)
    sent_by_the_app = r"intent '(request_agency|offer_rating)' is listed in the domain file, but is not found in the NLU training data"
    assert all(re.search(rf"utterance '({used_by_actions})' is not used", w) or re.search(sent_by_the_app, w)
               for w in warnings), warnings
    assert "No story structure conflicts found" in output
