"""Pinyin typed among characters is read as the knowledge base's words; everything else passes unchanged."""
import pytest

from knowledge.pinyin_input import PinyinReader
from knowledge.service import get_index


@pytest.fixture(scope="module")
def reader():
    return get_index().pinyin_reader


@pytest.mark.parametrize("typed, read", [
    ("我想办yibao电子pingzheng，liucheng是啥", "我想办医保电子凭证，流程是啥"),
    ("chuangye补贴多久能daozhang啊", "创业补贴多久能到账啊"),
    ("我想shenqing法律yuanzhu，要不要交qian", "我想申请法律援助，要不要交钱"),  # a part of a longer word (法律援助)
    ("qiye简易zhuxiao可以wangshang办吗", "企业简易注销可以网上办吗"),
    ("shebao卡丢了咋办", "社保卡丢了咋办"),
    ("我想办个 hu zhao 去泰国耍", "我想办个 护照 去泰国耍"),  # the syllables of one word typed apart
])
def test_pinyin_among_characters_is_read_as_the_items_words(reader, typed, read):
    assert reader.read(typed) == read


@pytest.mark.parametrize("text", [
    "wo de shebaoka diule",  # no character: not a message with pinyin mixed in (and no guess at a whole sentence)
    "我想问下app上能办不",  # not pinyin
    "ok谢谢",
    "预约码是bahuan，电话13812345678",  # six letters without O or I next to 码: may be a booking code
    "码ab3cde",  # letters inside a code
    "办iPhone的那个",  # part of a word with capitals
])
def test_other_latin_text_is_left_as_typed(reader, text):
    assert reader.read(text) == text


def test_a_run_that_does_not_read_wholly_as_words_stays():
    reader = PinyinReader(["医保电子凭证"])
    assert reader.read_run("yibao") == "医保"
    assert reader.read_run("yibaoxyz") is None
    assert reader.read("yibaoxyz电子凭证") == "yibaoxyz电子凭证"


def test_the_reading_with_the_fewest_words_wins():
    reader = PinyinReader(["法律援助", "预案 住"])  # 援助 (from 法律援助) against 预案 + 住
    assert reader.read("法律yuanzhu") == "法律援助"
