"""Keep Rasa's tracker of a long conversation short, so the hundredth turn is as quick as the first.

Rasa 3.6 reads, featurises and re-serialises a conversation's whole event list on every turn (and sends it to
the action server with every action call), so per-turn latency grows with the conversation's length even though
the policies look back only `max_history` turns. Every COMPACT_EVERY user turns the app replaces the tracker
with what a fresh Rasa session carrying over its slots would hold:

    action_session_start, session_started, the slots / active form / pause as they were at the cut,
    action_listen, then the last KEEP_TURNS user turns exactly as they happened.

KEEP_TURNS is larger than every policy's history (memoization 3, TED 5, the longest rule), so the policies'
predictions and the actions' view of the slots are unchanged; the full transcript stays in the app's database.
"""
from __future__ import annotations

import logging
from typing import Any

from bot.rasa_client import RasaClient

logger = logging.getLogger(__name__)

COMPACT_EVERY = 15  # user turns between compactions
KEEP_TURNS = 8      # user turns kept verbatim; must exceed the policies' max_history (see config.yml)


def cut_index(events: list[dict[str, Any]], keep_turns: int) -> int | None:
    """Index of the user event that starts the last `keep_turns` user turns, or None when there is little to drop.
    The cut moves later past a timestamp tie, since Rasa's `until` selects events by timestamp."""
    users = [i for i, e in enumerate(events) if e.get("event") == "user"]
    for i in users[-keep_turns:] if len(users) > keep_turns else []:
        if i > 0 and events[i - 1].get("timestamp", 0) < events[i].get("timestamp", 0):
            return i
    return None


def compacted(events: list[dict[str, Any]], cut: int, state_at_cut: dict[str, Any]) -> list[dict[str, Any]]:
    """The new event list: a carried-over session start describing the state at the cut, then events[cut:]."""
    ts = events[cut - 1].get("timestamp")
    prefix = [{"event": "action", "name": "action_session_start", "timestamp": ts},
              {"event": "session_started", "timestamp": ts}]
    prefix += [{"event": "slot", "name": name, "value": value, "timestamp": ts}
               for name, value in (state_at_cut.get("slots") or {}).items() if value is not None]
    loop = (state_at_cut.get("active_loop") or {}).get("name")
    if loop:
        prefix.append({"event": "active_loop", "name": loop, "timestamp": ts})
    if state_at_cut.get("paused"):
        prefix.append({"event": "pause", "timestamp": ts})
    prefix.append({"event": "action", "name": "action_listen", "timestamp": ts})
    return prefix + events[cut:]


async def compact(rasa: RasaClient, sender: str, keep_turns: int = KEEP_TURNS) -> int:
    """Compact one conversation's tracker; returns how many events were dropped (0 when nothing to do).
    The caller holds the app's per-conversation lock, so no turn of this conversation runs meanwhile."""
    tracker = await rasa.tracker(sender)
    events = tracker.get("events") or []
    cut = cut_index(events, keep_turns)
    if cut is None:
        return 0
    state = await rasa.tracker(sender, until=events[cut - 1]["timestamp"])
    new_events = compacted(events, cut, state)
    await rasa.replace_events(sender, new_events)
    dropped = len(events) - len(new_events)
    logger.info("compacted the tracker of %s: %d events -> %d", sender, len(events), len(new_events))
    return dropped
