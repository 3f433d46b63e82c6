"""Text normalisation for search: width, traditional→simplified, dialect words, fillers, punctuation."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")

# Sichuan dialect and colloquial words → the standard words guides use.
DIALECT = {
    "啥子": "什么", "撒子": "什么", "啥": "什么", "咋个": "怎么", "咋子": "怎么", "咋": "怎么", "哪点": "哪里",
    "哪儿": "哪里", "莫得": "没有", "没得": "没有", "晓得": "知道", "娃娃": "孩子", "娃儿": "孩子",
    "老汉儿": "父亲", "幺儿": "孩子", "屋头": "家里", "要得": "好的", "身分证": "身份证",
}
FILLERS = (
    "请问一下", "请问", "您好", "你好", "麻烦问下", "麻烦问一下", "麻烦", "想问一下", "想问下", "问一下", "问下",
    "咨询一下", "咨询下", "我想问", "我想咨询", "谢谢", "那个", "就是说",
)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_DIALECT_RE = re.compile("|".join(sorted(map(re.escape, DIALECT), key=len, reverse=True)))
# "那个" is a filler but for the 个 of a word that follows ("那个体户呢": 那 + 个体户, "那个人参保证明")
_FILLER_RE = re.compile("|".join(re.escape(f) + ("(?![体人税])" if f == "那个" else "")
                                 for f in sorted(FILLERS, key=len, reverse=True)))
_TRAILING = re.compile(r"[呢吗嘛啊呀哦吧哈噻撒嗦哇]+$")


@lru_cache(maxsize=20000)
def simplified(text: str) -> str:
    """The text in simplified characters and normal width, otherwise as written (punctuation and particles kept)."""
    return str(_T2S.convert(unicodedata.normalize("NFKC", text or "")))


@lru_cache(maxsize=20000)
def normalize(text: str) -> str:
    """Canonical form of a question: NFKC width, simplified, dialect mapped, fillers and punctuation gone."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _T2S.convert(text)
    text = _DIALECT_RE.sub(lambda m: DIALECT[m.group(0)], text)
    text = _FILLER_RE.sub(" ", text)
    text = _PUNCT.sub(" ", text).strip()
    text = " ".join(_TRAILING.sub("", part) for part in text.split())
    return text.replace(" ", "")


def pairs_of(text: str, step: int = 1) -> list[str]:
    """The two-character pieces of a text, overlapping ("残疾人证": 残疾, 疾人, 人证) or, with step 2, apart (创业, 补贴):
    how an item's name is compared with what was said, where the tokenizer keeps a name whole."""
    return [text[i:i + 2] for i in range(0, len(text) - 1, step)]
