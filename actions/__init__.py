"""Rasa custom actions, thin: each asks a service module and says what it returns."""
from actions import appeals, booking, chitchat, guides, handoff  # noqa: F401  (register the actions)
