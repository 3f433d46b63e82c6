"""Pinyin typed among characters ("我想办yibao电子pingzheng", "chuangye补贴多久能daozhang"), read back as the words it spells.

People who cannot find a character on the keyboard type its pinyin. Each run of lowercase letters in a message that
also has characters is read as a sequence of words of the knowledge base's own vocabulary (jieba words of the items'
names, aliases, keywords, example questions and conditions) and of the words people ask with (多久, 网上, 上班 ...),
choosing the reading with the fewest, longest words; a run that does not read wholly as such words stays as typed.
pypinyin gives each word's toneless spelling. Hand-written rather than a pinyin-to-character package: those (e.g.
Pinyin2Hanzi, last released 2017) decode with a general language model and know none of the items' words, which are
the words that matter here; the reading needs only this vocabulary and a shortest-path over the run.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import jieba
from pypinyin import lazy_pinyin

# Words citizens ask with that the guides' text rarely holds: aspects, money, time, place.
ASKING_WORDS = (
    "材料 资料 流程 步骤 条件 资格 多久 几天 时间 网上 手机 线上 收费 要钱 交钱 钱 多少 费用 地址 哪里 在哪 上班 下班 几点 "
    "办理 申请 需要 什么 怎么 怎么办 可以 能不能 要不要 到账 发放 领取 预约 本人 代办 几趟 跑 办 交 领 补 换 开 查 问 "
    "身份证 户口本 社保 医保 补贴 证明 登记 注销 认定 审批"
).split()
# whole words of lowercase letters (not part of a code), syllables typed apart joined: "hu zhao"
_RUN = re.compile(r"(?<![A-Za-z0-9])[a-z]+(?: [a-z]+)*(?![A-Za-z0-9])")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_CODE_LETTERS = re.compile(r"[^oi]{6}")  # a booking code has no O or I: such a 6-letter run may be one ("码是bahuan")


class PinyinReader:
    """Reads runs of pinyin as words of one vocabulary (build once per knowledge version; reading is thread-safe)."""

    def __init__(self, texts: Iterable[str], tokenizer: jieba.Tokenizer | None = None):
        cut = (tokenizer or jieba.dt).lcut_for_search  # 法律援助 and its parts 法律, 援助
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w for w in cut(text) if _HAN.fullmatch(w[0]) and all(_HAN.fullmatch(c) for c in w))
        for word in ASKING_WORDS:
            counts[word] += 1000  # the asking words win a tie of sounds (钱 over 前)
        self._words: dict[str, tuple[str, int]] = {}  # toneless spelling -> (the most frequent word with it, its count)
        for word, count in counts.items():
            spelling = "".join(lazy_pinyin(word))
            if spelling.isascii() and spelling.isalpha() and count > self._words.get(spelling, ("", 0))[1]:
                self._words[spelling] = (word, count)
        self._longest = max((len(s) for s in self._words), default=0)

    def read_run(self, run: str) -> str | None:
        """The words a run of pinyin spells, or None when it does not read wholly as words of the vocabulary."""
        best: list[tuple[int, int, str] | None] = [None] * (len(run) + 1)  # (words used, -characters, reading)
        best[0] = (0, 0, "")
        for end in range(1, len(run) + 1):
            for start in range(max(0, end - self._longest), end):
                found, before = self._words.get(run[start:end]), best[start]
                if found is None or before is None:
                    continue
                candidate = (before[0] + 1, before[1] - len(found[0]), before[2] + found[0])
                if best[end] is None or candidate[:2] < best[end][:2]:  # type: ignore[index]
                    best[end] = candidate
        final = best[len(run)]
        return final[2] if final is not None else None

    def read(self, text: str) -> str:
        """The message with each run of pinyin among characters replaced by its words; unchanged without characters,
        without such runs, or where a run does not read as words."""
        if not _HAN.search(text) or not _RUN.search(text):
            return text
        mentions_a_code = "码" in text

        def word(run: str) -> str:
            if len(run) < 2 or mentions_a_code and len(run) == 6 and _CODE_LETTERS.fullmatch(run):
                return run
            return self.read_run(run) or run

        def replace(match: re.Match[str]) -> str:
            words = match.group(0).split(" ")
            joined = self.read_run("".join(words)) if len(words) > 1 else None  # "hu zhao": one word typed apart
            return joined or " ".join(word(w) for w in words)

        return _RUN.sub(replace, text)
