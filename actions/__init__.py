"""Rasa custom actions, thin: each asks a service module and says what it returns."""
from actions import agency, appeals, booking, chitchat, guides, handoff, ratings, tickets  # noqa: F401  (register the actions)
