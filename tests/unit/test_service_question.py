"""The second look at intents that take a turn away from answering (actions/service_question.py): a situation the
classifier gave to goodbye, complaint, a person, a booking or a change is answered; every training example of
those intents keeps its intent."""
from pathlib import Path

import pytest
import yaml

from actions.service_question import CUES, is_service_question, says_nothing_more

ROOT = Path(__file__).resolve().parents[2]


def training_examples():
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu") or []:
            if block.get("intent") in CUES:
                for line in block["examples"].splitlines():
                    if line.startswith("- "):
                        yield block["intent"], line[2:].strip()


def test_every_training_example_keeps_its_intent():
    examples = list(training_examples())
    assert len({intent for intent, _ in examples}) == len(CUES) and len(examples) > 200
    taken = [(intent, text) for intent, text in examples if is_service_question(intent, text)]
    assert taken == []


@pytest.mark.parametrize("intent, text", [
    ("book_appointment", "我下个月满六十，办退休要拿些啥子东西去嘛"),
    ("change_booking", "我的身份证上个月到期了，现在去换一个新的要好久才拿得到"),
    ("cancel_appointment", "我的身份证上个月到期了，现在去换一个新的要好久才拿得到"),
    ("complain", "娃兒上戶口，爸媽兩個都要去不"),
    ("goodbye", "社保卡丢了补办要带什么材料"),
    ("change_booking", "我是跑网约车的，没有单位，想自己交职工的那种养老保险，以后退休拿得多一点，要咋个办"),
    # a situation told to ask what to do is no complaint, even when the search finds no item in it
    ("complain", "我娃儿今年满十六岁了，一直没办过证件，马上要中考用，派出所说要本人去办，要咋个办"),
    ("complain", "我们公司的公章用了好多年，边边都磨坏了，要重新刻一个，需要准备哪些东西"),  # 坏: part of the situation
    ("complain", "公司派我下个月去马来西亚出差，我还没有出国的证件，现在去办来得及不"),  # 出差 is no 差
    ("book_appointment", "那个嗯 我想问一下港澳通行证 港澳通行证怎么办 要先预约吗"),  # asks whether to book
    ("goodbye", "我爸上个月走了，他名下有套房子，要转到我妈名下，咋个办"),  # 走了 in a story that asks how
    ("complain", "我们一家搬到夹江来住了，户口想从乐山市中区迁过来"),  # nothing asked, but a service wanted
    ("complain", "娃儿读书报名的事"),  # a topic named: too short to be a grievance told
    # a long story asking a service's aspect, no booking or time named: 改 of a name on a deed, not of a booking
    ("cancel_appointment", "老汉想把他名下的房子送给我，要去把房产证上的名字改成我的，要交好多费用？"),
    # help asked of the government in a story whose 走了 (过不走了) is no goodbye
    ("goodbye", "屋头突然失火了，房子烧了，一家人没得地方住，生活一下子过不走了，政府能不能给点应急的帮扶？"),
])
def test_a_service_question_given_another_intent_is_answered(intent, text):
    assert is_service_question(intent, text)


@pytest.mark.parametrize("intent, text", [
    ("book_appointment", "帮我约下周一上午去办身份证"),
    ("book_appointment", "我上班没空，周六能不能去办身份证"),  # "5+X": when it can be done, i.e. a booking
    ("change_booking", "改到下周五下午办身份证"),
    ("cancel_appointment", "办身份证那个号我不要了，帮我退掉"),
    ("complain", "我要投诉，办身份证跑了三趟都没办好"),
    ("complain", "我要投诉，办身份证要带啥子都说不清楚"),  # the complaint's own word, whatever else is asked
    ("complain", "工资拖了三个月一分钱都没拿到，我们几十个人咋个办嘛"),  # a grievance: no service answers it
    ("complain", "窗口排了三个小时队，怎么办"),
    ("request_human", "身份证的事情跟你说不清楚，转人工"),
    ("goodbye", "好的，身份证的事晓得了，再见"),
    ("ask_materials", "社保卡丢了补办要带什么材料"),  # intents without a second look are never touched
    ("goodbye", "/goodbye"),  # a button's payload
    ("goodbye", "好的谢谢 我知道咋个办了"),  # short: knowing how is no question
    ("goodbye", "我晓得咋个办这个残疾证了 谢谢你 再见"),  # a farewell said
    ("complain", "我们这边停水停了两天了，也没得通知，屋头老人娃儿都不方便"),  # told, nothing asked or wanted
    ("change_booking", "我约的那个身份证要改到下周五下午，能改不，要带啥子"),  # a booking and a time named
    ("goodbye", "好 莫得其他的了"),  # nothing more: no goodbye word, and no question either
])
def test_the_intents_own_words_keep_it(intent, text):
    assert not is_service_question(intent, text)


@pytest.mark.parametrize("text, done", [
    ("好 晓得了 莫得了", True), ("谢谢哈 没得了", True), ("晓得了 谢谢 没得了", True), ("没有", False),
    ("没得了 谢谢你们", True), ("谢谢你们 没得了", True), ("莫得了 谢谢你哈", True),
])
def test_nothing_more_in_sichuanese(text, done):
    assert says_nothing_more(text) is done


@pytest.mark.parametrize("text, done", [
    ("好 没得了 就这样", True), ("改好了哈 没得事了", True), ("没事了", True), ("没得问题", False), ("没有问题", False),
])
def test_nothing_more_after_an_acknowledgement(text, done):
    assert says_nothing_more(text) is done


@pytest.mark.parametrize("text, done", [
    ("好，谢了哈", True), ("好了，多谢你", True), ("晓得了 谢啦", True), ("行 谢谢你们", True),
    ("谢了 那要带啥", False), ("好了，多谢你帮我约", False),
])
def test_thanks_alone_after_ok_is_done(text, done):
    assert says_nothing_more(text) is done


@pytest.mark.parametrize("text, done", [
    ("好的，晓得了，谢谢", True), ("晓得了谢谢你", True), ("明白了 谢谢", True), ("谢谢", False), ("晓得了", False),
    ("晓得了，谢谢，那社保卡呢", False),
])
def test_understood_with_thanks_is_nothing_more(text, done):
    """Understood and thanks, nothing asked: the conversation is done (a goodbye and the rating), whatever the
    classifier read; thanks alone or understood alone keep their own answers."""
    assert says_nothing_more(text) is done


def test_a_question_read_as_booking_without_a_word_of_booking_is_answered():
    assert is_service_question("book_appointment", "我要出国去打工，要办些啥子")
    assert not is_service_question("book_appointment", "我想约个时间办护照")
