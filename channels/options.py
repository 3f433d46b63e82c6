"""Options as numbers, for channels that cannot show buttons: WeChat text ("回复1") and phone keys ("请按1")."""
from __future__ import annotations

import re
import unicodedata

from bot.messages import Button, Reply

_LISTED = re.compile(r"^\s*(\d{1,2})[.、．]\s*(.+?)\s*$")
TAP_WORDS = "请点选"  # the answers' wording for buttons; channels without buttons replace it


def offered(replies: list[Reply]) -> list[Button]:
    """The options of a turn: the buttons of its last reply that has any (what "1", "2" will select)."""
    for reply in reversed(replies):
        if reply.buttons:
            return list(reply.buttons)
    return []


def listed_lines(reply: Reply) -> set[int]:
    """Indexes of text lines that already list the buttons as "1. title", "2. title", ... (empty if not all do)."""
    found: dict[int, tuple[int, str]] = {}  # listed number -> (line index, title)
    for i, line in enumerate(reply.text.splitlines()):
        match = _LISTED.match(line)
        if match:
            found[int(match.group(1))] = (i, match.group(2))
    wanted = {}
    for n, button in enumerate(reply.buttons, 1):
        listed = found.get(n)
        if listed is None or listed[1] != button.title:
            return set()
        wanted[n] = listed[0]
    return set(wanted.values())


def number(text: str) -> int | None:
    """ "1", "２", " 3 " → 1, 2, 3; anything else → None."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    return int(text) if text.isdigit() and len(text) <= 2 else None


def select(buttons: list[Button], text: str) -> str | None:
    """The payload the citizen chose by number, or None when the text is not one of the numbers."""
    n = number(text)
    if n is not None and 1 <= n <= len(buttons):
        return buttons[n - 1].payload
    return None
