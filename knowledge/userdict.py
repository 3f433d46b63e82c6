"""Generate the jieba user dictionary for Rasa's JiebaTokenizer from item names and aliases."""
from __future__ import annotations

from pathlib import Path

from knowledge.loader import KnowledgeBase
from knowledge.normalize import normalize


def write_userdict(kb: KnowledgeBase, directory: Path) -> int:
    """Write `userdict.txt` (word, frequency per line) into directory; returns the word count."""
    words: set[str] = set()
    for entry in kb.entries:
        for text in [entry.name, *entry.aliases, *entry.keywords]:
            word = normalize(text)
            if 2 <= len(word) <= 20:
                words.add(word)
            if text != word and 2 <= len(text) <= 20 and " " not in text:
                words.add(text)
    directory.mkdir(parents=True, exist_ok=True)
    lines = [f"{w} 2000\n" for w in sorted(words)]
    (directory / "userdict.txt").write_text("".join(lines), encoding="utf-8")
    return len(lines)
