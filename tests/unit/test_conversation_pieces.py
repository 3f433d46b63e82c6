"""The pieces that follow a citizen through a conversation: aspects asked in words, item switches, vague openings
asked back by topic, a detail that picks among offered items, life events and their steps, booking phrases, small
talk that carries a question. Actions run with tracker fixtures and CollectingDispatcher."""
import asyncio
import datetime as dt
import logging

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from test_actions import item_id, run, tracker

from actions.booking import AFFIRM, earliest_in_part, exact_slot, item_of, manage_op
from actions.chitchat import ActionSmallTalk
from actions.guides import ActionAnswerGuide, a_topic_and_an_aspect, asked_aspect, brings_a_document, pick_candidate
from bot.booking.dates import When
from bot.booking.schedule import Slot
from bot.booking.service import looks_up_a_booking
from knowledge.answers import MAX_OPTIONS, also_asked, answer, asks_something, aspect_in, aspects_in, event_answer
from knowledge.events import EventError, events, load_events, match_event
from knowledge.service import get_index
from knowledge.topics import topic_of, topics


@pytest.mark.parametrize("text, aspect", [
    ("要带啥子证件", "materials"), ("收不收费", "fee"), ("好久能拿到", "time_limit"), ("在哪里办", "location_hours"),
    ("手机上能办不", "online"), ("要跑几趟", "visits"), ("本人要到场不", "visits"), ("你好", None),
    ("要带什么，多少钱", None),  # two aspects: no single one (aspects_in gives both, in order)
    ("需要准备哪些东西", "materials"), ("要拿些啥子去申请嘛", "materials"), ("要不要收入证明", "materials"),
    ("应该咋个弄", "procedure"), ("低保咋个申请嘛", None), ("扯结婚证两个人都必须去哇", "visits"),
    ("能不能委托别人去补", "visits"), ("娃儿办护照，大人要陪起去不", "visits"),
    ("正式开工之前还要办啥子手续", None),  # which items to get, not how one is done
])
def test_aspect_words(text, aspect):
    assert aspect_in(text) == aspect


@pytest.mark.parametrize("text, asked", [
    # a story tells things on the way; what its question asks is what counts
    ("老婆生完娃儿休了产假，单位说那笔钱要去医保局申请，交了材料好久能到账？", ["time_limit"]),
    ("我在网上卖自家做的竹编，现在想在街上租个铺面正式开张，用我个人名义办那个开店的照，收不收费？", ["fee"]),
    ("我爸妈搬了几次家那个红本本找不到了，要去哪儿重新弄一本，几点上班？", ["location_hours"]),
    ("中介说要开一个证明我没坐过牢的材料，在哪里开？", ["location_hours"]),
    ("材料都准备好了，交上去几天能拿到营业执照？", ["time_limit"]),
    ("第一次办好久能拿到？", ["time_limit"]), ("从交材料到办下来要好多天？", ["time_limit"]),
    # several questions, each asked: all of them, in order
    ("参保证明在哪里打？要带身份证吗？", ["location_hours", "materials"]),
    ("社保卡丢了能在手机上先挂失吗？补卡要几天", ["online", "time_limit"]),
    ("要带什么材料", ["materials"]),  # a short question's word is asked
    ("在村上能办不 还是要跑县城", ["location_hours"]), ("我在乡镇就能办吗", ["location_hours"]),  # near home or in town
    ("村上说可以申请", []),  # told, not asked
    # "是真的不" asks whether what was told is so: the told clause's aspect ("听说在手机上就能弄完，是真的不")
    ("朋友说现在成立公司在手机上就能全部弄完，不用跑大厅，是真的不？", ["online"]),
    # how asked beside another aspect asks the steps too, in the order asked; alone it is the intent's (how_asked)
    ("临时救助咋个申请，多久能批？", ["procedure", "time_limit"]), ("残疾人证怎么办，收费吗？", ["procedure", "fee"]),
    ("医保电子凭证咋个激活，要不要跑窗口？", ["procedure", "visits"]), ("低保咋个申请嘛", []),
    ("医保卡掉了，要咋个重新弄一张，要几天？", ["procedure", "time_limit"]),  # 弄, 注册, 销 ask how too
    ("几个朋友合伙开公司咋注册，要多少钱", ["procedure", "fee"]),
    ("不知道怎么办才好，政府能帮一把不", []),  # told on the way, not asked
    ("开工之前还要办那道手续，一般要多少个工作日能批下来？", ["time_limit"]), ("有没有应急用的那种，当场能拿到吗？", ["time_limit"]),
    ("人事说要交一份公安开的证明，这个要去哪里开？", ["location_hours"]),
])
def test_what_a_message_asks(text, asked):
    assert aspects_in(text) == asked


@pytest.mark.parametrize("text, first, more", [
    ("低保咋个申请嘛", "item", ("procedure",)),  # how: the overview and the steps, whichever comes first
    ("低保咋个申请嘛", "procedure", ("item",)),
    ("医保码在微信上怎么领", "online", ()),  # the classifier's other aspect stays alone
    ("身份证过期了要怎么换要带什么", "materials", ("procedure",)),  # how asked beside something more specific: the steps too
    ("身份证过期了要带什么", "materials", ()),
    ("在哪里打？要带身份证吗？", "location_hours", ("materials",)),
])
def test_what_is_answered_besides(text, first, more):
    assert also_asked(text, first) == more


@pytest.mark.parametrize("text, asks", [
    ("顺便问下 我妈还没参加城乡居民养老保险 咋个参保", True), ("社保卡补办要带什么", True), ("能网上办不", True),
    ("我是昨天下午去办社保卡遇到的", False),  # where a complaint's time is asked: told, not asked
])
def test_whether_a_message_asks_at_all(text, asks):
    assert asks_something(text) is asks


@pytest.mark.parametrize("text, aspects", [
    ("参保证明在哪里打？要带身份证吗？", ["location_hours", "materials"]),
    ("补结婚证要两个人都到场吗？要带什么证件？", ["visits", "materials"]),
    ("三级残疾能不能领护理补贴？申请要准备什么？", ["item", "materials"]),
    ("今年一年级什么时候开始报名？要带户口本和房产证吗？", ["location_hours", "materials"]),
    ("幼兒園報名在哪點報嘛，好久開始", ["location_hours"]),  # 好久开始 asks when it opens, not how long it takes
    ("我离婚了一个人带两个娃儿，没有固定工作，要准备什么", ["materials"]),  # 带娃儿 is no question about materials
    ("家里条件差，刚评上低保，要准备什么", ["materials"]),  # 条件差 tells a situation, asks no conditions
    ("资料交到哪里", ["location_hours"]), ("在那儿开哦", ["location_hours"]),  # where, though 资料 is said; 那儿 for 哪儿
    ("她走不动路 我去交要得不", ["visits"]), ("屋头人能不能帮我代办", ["visits"]),  # someone else going instead
    # where to go, asked at the end of a story ("…要到哪里去申请？", "…去哪个部门申请？", "…去哪里销掉？")
    ("我兄弟是二级肢体残疾，每个月可以多领一笔生活上的钱，要到哪里去申请？", ["location_hours"]),
    ("想申请政府那种租金便宜的房子，要去哪个部门申请？", ["location_hours"]), ("执照还挂着，去哪里销掉？", ["location_hours"]),
    ("我跑了好多地方，去哪里都说不归他们管", []),  # told, not asked
    # more ways the writers asked: "要交些啥子", "…要什么", "来得及不", "要跑好多趟", "上门来办不", "要不要交手续费"
    ("屋头遭火烧了，可以申请一笔救急的钱，要交些啥子", ["materials"]), ("单位社保开户要什么", ["materials"]),
    ("现在去办来得及不", ["time_limit"]), ("要提前几个月去办啊", ["time_limit"]), ("要跑好多趟？", ["visits"]),
    ("老人瘫在床上，可以上门来办不", ["visits"]), ("去办手续要不要交手续费？", ["fee"]), ("评定要自己出钱吗？", ["fee"]),
    ("补结婚证 要不要钱 要不要带照片", ["fee", "materials"]),  # "要不要…照片" does not reach over to the first 要不要
    ("随迁子女入学 啥子时候报名嘛", ["location_hours"]),
])
def test_every_aspect_asked_in_the_order_asked(text, aspects):
    assert aspects_in(text) == aspects


def test_two_aspects_asked_are_both_answered_the_first_first():
    entry = get_index().kb.by_name("个人参保证明查询打印")
    text = answer(entry, "location_hours", ("materials",)).text
    assert text.index("办理地点：") < text.index("需要准备以下材料") and answer(entry, "location_hours").text.count("需要准备以下材料") == 0
    assert asked_aspect("materials", "参保证明在哪里打？要带身份证吗？", None) == "location_hours"  # the words, in order


@pytest.mark.parametrize("intent_aspect, text, previous, expected", [
    ("procedure", "那港澳通行证呢", "fee", "fee"),  # the classifier's guess does not override a switch
    ("procedure", "特困供养呢", "item", "item"),  # "低保要啥条件" → "那临时救助呢" → "特困供养呢": the conditions again
    ("item", "护照的话", "time_limit", "time_limit"),
    ("item", "那护照要带什么", "fee", "materials"),  # a switch that asks its own question
    ("item", "办护照", "fee", "item"),
    ("fee", "护照多少钱", None, "fee"),
    ("item", "我们是外地来打工的，户口不在夹江，也是这些吗", "materials", "materials"),  # the same answer for another case?
    ("item", "外地户口也一样吗", "time_limit", "time_limit"),
    ("online", "那我奶奶77岁，能办那个老年优待证不", "fee", "item"),  # whether she can have it: its conditions
    ("online", "家里遭了火灾，能申请救急的钱不", None, "item"), ("item", "社保卡网上能办不", None, "online"),
])
def test_an_item_switch_keeps_the_question(intent_aspect, text, previous, expected):
    assert asked_aspect(intent_aspect, text, previous) == expected


@pytest.mark.parametrize("text, brings", [
    ("要不要带结婚证哦", True), ("户口本要带不", True), ("结婚证要不要带", True), ("带身份证就行了吗", True),
    ("办护照要带身份证不", False),  # another item named besides the document: a switch
    ("补办结婚证要带啥", False), ("补领结婚证要带身份证吗", False), ("要带啥子", False),
])
def test_a_document_to_take_along_is_no_other_item(text, brings):
    assert brings_a_document(text) is brings


def test_whether_to_take_a_document_that_names_another_item_stays_with_the_item_in_context():
    current = item_id("生育津贴支付")
    messages, slots = run(ActionAnswerGuide(), tracker("要不要带结婚证哦", "ask_materials", {"item": current, "aspect": "item"}))
    assert messages[0]["text"].startswith("【生育津贴支付】") and "需要准备以下材料" in messages[0]["text"]
    assert slots["item"] == current


def test_a_follow_up_after_a_booking_is_about_the_item_booked():
    messages, slots = run(ActionAnswerGuide(), tracker("要好久", "ask_time_limit", {"booking_item": "生育津贴支付"}))
    assert messages[0]["text"].startswith("【生育津贴支付】") and "承诺办结时限" in messages[0]["text"]
    assert slots["item"] == item_id("生育津贴支付")


def test_a_matter_named_in_full_and_asked_how_is_answered_a_shared_word_is_asked_back():
    messages, _ = run(ActionAnswerGuide(), tracker("我想咨询企业职工退休的事 到年龄了咋个申请", "ask_item"))
    assert messages[0]["text"].startswith("【企业职工基本养老保险正常退休申请】")
    messages, _ = run(ActionAnswerGuide(), tracker("社保卡的事咋个办", "ask_item"))  # 社保卡: two items' word
    assert "哪一项" in messages[0]["text"] and len(messages[0]["buttons"]) >= 2


def test_an_aspect_asked_at_length_with_nothing_of_another_item_is_a_follow_up():
    # 手机 fits the medical e-voucher, but nothing besides the aspect asked points at another item
    current = item_id("企业职工基本养老保险正常退休申请")
    messages, slots = run(ActionAnswerGuide(), tracker("网上办得到不，我儿子说手机上可以弄", "ask_online",
                                                       {"item": current, "aspect": "time_limit"}))
    assert messages[0]["text"].startswith("【企业职工基本养老保险正常退休申请】") and slots["item"] == current


def test_a_topics_word_that_is_one_items_own_alias_names_that_item():
    messages, slots = run(ActionAnswerGuide(), tracker("我问下低保的事", "ask_item"))
    assert messages[0]["text"].startswith("【最低生活保障】") and slots["item"] == item_id("最低生活保障")
    messages, _ = run(ActionAnswerGuide(), tracker("社保卡的事想问下", "ask_item"))  # 社保卡: two items' word
    assert "哪一项" in messages[0]["text"]


def test_a_switch_to_a_topics_word_that_names_an_item_answers_it_with_the_same_question():
    current = item_id("个体工商户设立登记")
    messages, slots = run(ActionAnswerGuide(), tracker("那开公司呢", "ask_item", {"item": current, "aspect": "materials"}))
    assert messages[0]["text"].startswith("【有限责任公司设立登记】") and "需要准备以下材料" in messages[0]["text"]
    messages, _ = run(ActionAnswerGuide(), tracker("想问问开店的事情", "ask_item"))  # no item before: asked which
    assert "开店方面的哪一项" in messages[0]["text"]


def test_a_short_question_after_a_single_option_with_a_word_of_another_guide_is_about_that_guide():
    offered = [item_id("个人参保证明查询打印")]
    messages, slots = run(ActionAnswerGuide(), tracker("那我顺便问下 公租房在哪儿申请", "ask_location_hours", {"candidates": offered}))
    assert messages[0]["text"].startswith("【公共租赁住房申请资格审核认定】")
    messages, _ = run(ActionAnswerGuide(), tracker("在哪儿打印", "ask_location_hours", {"candidates": offered}))
    assert messages[0]["text"].startswith("【个人参保证明查询打印】")  # a follow-up still takes the single option


def test_item_switch_in_the_dialogue_keeps_the_fee_question():
    current = item_id("居民身份证办理（包括临时）")
    messages, slots = run(ActionAnswerGuide(), tracker("那港澳通行证呢", "ask_procedure", {"item": current, "aspect": "fee"}))
    assert messages[0]["text"].startswith("【往来港澳通行证及签注签发】") and "收费" in messages[0]["text"]
    assert slots["aspect"] == "fee"


def test_topics_name_only_detailed_items_and_a_vague_opening_is_asked_back():
    kb = get_index().kb
    assert all(kb.by_name(name) is not None and kb.by_name(name).detailed for t in topics() for name in t.items)
    assert topic_of("咨询点户口上的事").name == "户口"
    messages, slots = run(ActionAnswerGuide(), tracker("想问问开店的事情", "ask_item"))
    assert "开店方面的哪一项" in messages[0]["text"]
    assert 2 <= len(messages[0]["buttons"]) <= MAX_OPTIONS and len(slots["candidates"]) <= MAX_OPTIONS
    assert item_id("个体工商户设立登记") in slots["candidates"]


def test_a_weakly_guessed_aspect_of_a_vague_opening_is_not_carried_to_the_answer():
    weak = tracker("咨询点户口上的事", "ask_online")
    weak.latest_message["intent"]["confidence"] = 0.45  # "上" read as 网上
    _, slots = run(ActionAnswerGuide(), weak)
    assert slots["candidates"] and slots["aspect"] == "item"
    _, slots = run(ActionAnswerGuide(), tracker("户口上的事，网上能办不", "ask_online"))  # said in words: kept
    assert slots["aspect"] == "online"


def test_a_question_the_classifier_was_unsure_of_keeps_the_aspect_it_says_in_words():
    from actions.guides import ActionFallbackSearch

    messages, slots = run(ActionFallbackSearch(), tracker("我老公身份证掉了，他在夹江工地上做事，在这边补办要带啥子", "nlu_fallback"))
    assert slots["aspect"] == "materials" and "需要准备以下材料" in messages[0]["text"]


def test_a_life_event_the_classifier_was_unsure_of_is_told_whole():
    from actions.guides import ActionFallbackSearch

    messages, _ = run(ActionFallbackSearch(), tracker("生了二胎，要给娃办些啥", "nlu_fallback"))
    assert messages[0]["text"].startswith("【一件事：")


def test_a_detail_or_a_number_picks_among_the_offered_items():
    offered = [item_id(n) for n in ["出生登记", "户口迁移审批", "居住证办理"]]
    assert pick_candidate("第二个嘛", offered).name == "户口迁移审批"
    assert pick_candidate("给刚出生的娃儿上户口", offered).name == "出生登记"
    assert pick_candidate("随便", offered) is None
    # thanks is no choice, even read together with the question the options answered
    assert pick_candidate("好的，晓得了，谢谢", offered, "给刚出生的娃儿上户口") is None
    messages, slots = run(ActionAnswerGuide(), tracker("给刚出生的娃儿上户口", "ask_item", {"candidates": offered, "aspect": "materials"}))
    assert messages[0]["text"].startswith("【出生登记】") and "需要准备以下材料" in messages[0]["text"]


def test_situations_in_the_guides_teach_the_search():
    resolution = get_index().resolve("我妈下个月就满八十岁了，听说政府每个月给八十岁以上的老人发点钱，要办啥手续")
    assert resolution.kind == "answer" and resolution.entry.name == "80周岁以上老年人高龄津贴发放"
    assert all(g.situations for g in get_index().kb.guides)


def test_every_life_event_loads_with_steps_that_are_detailed_guides():
    kb = get_index().kb
    loaded = load_events(item_names={g.name for g in kb.guides})
    assert len(loaded) >= 12 and loaded == events()
    required = {"新生儿", "入学", "结婚", "开店", "开公司", "注销", "失业", "退休", "老年", "残疾", "二手房", "出国"}
    names = " ".join(e.name for e in loaded) + " ".join(a for e in loaded for a in e.aliases)
    assert [word for word in required if word not in names] == []


def test_an_event_file_naming_an_unknown_item_is_refused(tmp_path):
    (tmp_path / "x.yaml").write_text("一件事: 测试\n步骤:\n  - 事项: 不存在的事项\n", encoding="utf-8")
    with pytest.raises(EventError, match="x.yaml: 步骤"):
        load_events(tmp_path, item_names={"出生登记"})


def test_a_life_event_lists_its_steps_from_the_guides_and_a_step_can_be_asked():
    event = match_event("生了二胎，要给娃办些啥")
    assert event is not None and event.id == "newborn"
    kb = get_index().kb
    entries = [kb.by_name(step.item) for step in event.steps]
    text = event_answer(event, entries).text
    for n, entry in enumerate(entries, 1):
        assert f"{n}. {entry.name}" in text and entry.department in text and f"/guides/{entry.id}" in text
    messages, slots = run(ActionAnswerGuide(), tracker("生了二胎，要给娃办些啥", "ask_item"))
    assert messages[0]["text"].startswith("【一件事：") and slots["candidates"] == [e.id for e in entries]
    messages, _ = run(ActionAnswerGuide(), tracker("第二步要带什么", "ask_materials", {"candidates": slots["candidates"]}))
    assert messages[0]["text"].startswith(f"【{entries[1].name}】") and "需要准备以下材料" in messages[0]["text"]


def test_opening_a_company_lists_the_four_steps_of_the_county_policy():
    event = match_event("和朋友合伙开公司，开业前都要跑哪些部门")
    assert [s.item for s in event.steps][:4] == ["有限责任公司设立登记", "印章刻制备案", "发票票种核定", "企业社会保险登记"]


@pytest.mark.parametrize("text, op", [
    ("那天有事去不成了，码是 K7PQ2M，电话 13900001111，给我退了", "cancel"), ("不约了，退掉", "cancel"),
    ("去不成了，改到下周五下午", "reschedule"), ("往后挪一下", "reschedule"), ("我约的是几点", "lookup"),
    ("6DDTML 17612349087 推到下周五晚上六点半", "reschedule"), ("能不能延到下周", "reschedule"),
    ("那个预约帮我取小了", "cancel"),  # a speech recogniser's 取消
    ("去不成了 把预约撤了嘛 码N58CM8 电话15984416270", "cancel"),
    # asking whether it was done is a look-up (it had moved the booking again): "改好了吗", "取消了没"
    ("改好了吗？帮我查下现在约的是哪天", "lookup"), ("那个预约取消了吗", "lookup"), ("改过来了不", "lookup"),
    ("能改不", "reschedule"), ("帮我取消嘛", "cancel"), ("退了嘛", "cancel"),
    ("外省户口在夹江换身份证要带什么？能预约吗？", "lookup"), ("预约改名字了", "lookup"),  # a document or a name changed
    ("约的那个换个时间", "reschedule"),
])
def test_what_a_booking_message_wants(text, op):
    assert manage_op(text) == op


@pytest.mark.parametrize("text, looks_up", [("查下现在约的是星期几", True), ("我约的是几点", True), ("帮我查下我的预约", True),
                                            ("帮我查一下13508139876约的", True), ("查下我约的", True),
                                            ("约在哪天来着", True), ("预约要带什么", False), ("可以预约不", False)])
def test_asking_after_a_booking_in_words(text, looks_up):
    assert looks_up_a_booking(text) == looks_up


@pytest.mark.parametrize("text, only", [("港澳的要好多钱", True), ("户口的要带啥", True),
                                        ("今年城乡居民医保一个人交好多钱", False), ("港澳", False)])
def test_a_topic_word_and_an_aspect_and_nothing_else(text, only):
    assert a_topic_and_an_aspect(text) == only


@pytest.mark.parametrize("text, said", [("取消预约", True), ("不约了，退掉", True), ("那个预约我不去了", True),
                                        ("周六去不成了", False), ("那天有事来不了", False),
                                        ("屋头临时有事 去不成了 把预约撤了嘛", True)])
def test_cancelling_said_in_words_or_only_a_reason(text, said):
    from bot.booking.service import cancel_said

    assert cancel_said(text) is said


@pytest.mark.parametrize("text, about_a_booking", [
    ("我记下了。顺便查一下嘛，LHKSZ6，18812345000，看约上没有", True), ("不约了，退掉，A92TUS，18090123456", True),
    ("预约码ABPCC4，电话18208135566，能不能往后挪到下周六上午十点", True), ("预约码：BK94MM", True), ("码是 k7pq2m", True),
    ("帮我约下周一上午十点办身份证，我叫张伟，电话13900002222", False),  # a new booking: no code
    ("我的手机号 13900002222", False), ("WECHAT 上能办不", False), ("/cancel_appointment", False),
    ("AZVKMS 180 8045 7731 帮我查下约起没得", True),  # the mobile typed in groups: a look-up, not a new booking
    ("再帮我查一下 F2WB5Q", True), ("BDMQCX 查下", True),  # a code with what to do with it
    ("wechat 查一下", False),  # a word in small letters, no digit: no code
])
def test_a_message_with_a_booking_code_is_about_that_booking(text, about_a_booking):
    from bot.booking.service import names_a_booking

    assert names_a_booking(text) is about_a_booking


@pytest.mark.parametrize("text, changes, books", [
    ("那个预约我不去了", True, False), ("约的那个能不能推到下周", True, False), ("我约的是几点", False, False),
    ("下周三晚上六点约个办个体户营业执照，名字张小燕，手机17723459876", False, True),
    ("约个号要带什么", False, False),  # no mobile, no day: not clearly a booking asked for
    ("我想约下周四晚上六点去换身份证", False, True), ("帮我约个明天下午的号补社保卡", False, True),  # a day named
    ("晚上六点能约不", False, False),  # a time without a day: a question about the hours
    ("预约码ABPCC4，电话18208135566，取消", True, False),  # names the booking: not a new one
    ("那帮我约一个吧", False, True), ("好 预约一下", False, True),  # asked for in so many words
    ("帮我约的那个取消掉", True, False), ("约一个号要多久", False, False),
    ("我要去办个居住证 明天上午 我叫黄丽 手机号15182330764", False, True),  # a day to come and the mobile, without 约
    ("上周四在社保窗口等了两个钟头，我电话13518234567", False, False),  # a day gone by: no booking
])
def test_a_change_of_a_booking_made_and_a_booking_asked_for_with_the_details(text, changes, books):
    from bot.booking.service import asks_to_book, changes_a_booking

    assert changes_a_booking(text) is changes and asks_to_book(text) is books


@pytest.mark.parametrize("text, books", [
    ("那帮我约一个吧", True), ("帮我约明天上午十一点", True), ("好 预约一下", True),
    ("我电话15883621740 帮我查下约的啥子时候", False), ("我想查一下我约的 手机号是135-4120-7788", False),  # a look-up
    ("帮我约的那个取消掉", False),
])
def test_a_new_booking_asked_for_in_words(text, books):
    from bot.booking.service import books_in_words

    assert books_in_words(text) is books


def test_a_named_time_picks_its_slot_and_yes_accepts_the_offer():
    day = dt.date(2026, 12, 7)
    free = [(Slot("police", day, dt.time(h, m), dt.time(h, m + 29), False), 3) for h in (9, 10) for m in (0, 30)]
    ten = When(dt.datetime(2026, 12, 7, 10, 0), dt.datetime(2026, 12, 7, 10, 59), True)
    assert exact_slot(free, ten).start == dt.time(10, 0)
    morning = When(dt.datetime(2026, 12, 7, 8, 0), dt.datetime(2026, 12, 7, 11, 59), True)
    assert exact_slot(free, morning) is None  # a part of day: the citizen chooses
    quarter_past = When(dt.datetime(2026, 12, 7, 10, 15), dt.datetime(2026, 12, 7, 10, 16), True)
    assert exact_slot(free, quarter_past).start == dt.time(10, 0)  # "十点一刻": the slot it falls in
    assert AFFIRM.match("对的") and AFFIRM.match("要得") and not AFFIRM.match("不对")
    assert AFFIRM.match("对 确认") and AFFIRM.match("好的，没问题") and not AFFIRM.match("对 但是改下午")


def test_a_part_of_day_books_its_earliest_time_and_lunch_is_the_lunch_service():
    day = dt.date(2026, 12, 18)
    free = [(Slot("police", day, dt.time(h, m), dt.time(h, m + 29), h == 12 or (h == 13 and m == 0)), 3)
            for h in (12, 13, 14) for m in (0, 30)]
    lunch = When(dt.datetime(2026, 12, 18, 12, 0), dt.datetime(2026, 12, 18, 13, 59), True)
    assert earliest_in_part(free, lunch, day).start == dt.time(12, 0)  # not the hall's 13:30 inside the lunch hours
    afternoon = When(dt.datetime(2026, 12, 18, 13, 0), dt.datetime(2026, 12, 18, 17, 59), True)
    assert earliest_in_part(free, afternoon, day).start == dt.time(13, 30)  # the hall's afternoon, not a 5+X slot


def test_a_booking_message_names_its_item_through_the_dates():
    assert item_of("个体户不开了怎么注销，帮我约个下周一上午去政务中心").name == "个体工商户注销登记"
    # the name and the phone are not part of the item
    assert item_of("帮我约下周二下午两点办结婚登记嘛，我叫何婷婷，电话15182736455").name == "中国内地公民婚姻登记"
    # a part of the message that only resembles how people ask about an item names none: the item in context is booked
    assert item_of("写娃娃的名字，罗子涵，电话是我的15228051837") is None
    assert item_of("那约个下周二下午去交资料嘛，三点") is None


def test_small_talk_that_carries_a_question_gets_the_answer():
    messages, _ = run(ActionSmallTalk(), tracker("喂你好，我想问下补办身份证要带什么", "greet"))
    assert messages[0]["text"].startswith("【居民身份证办理（包括临时）】")
    messages, _ = run(ActionSmallTalk(), tracker("你好", "greet"))
    assert messages[0]["response"] == "utter_greet"
    messages, _ = run(ActionSmallTalk(), tracker("在吗？有个事想咨询下", "greet"))
    assert messages[0]["response"] == "utter_greet"


def test_a_greeting_with_a_question_nothing_answers_is_told_so_not_greeted():
    # the classifier read "请问" and a question the knowledge base does not know as a greeting: the citizen is told
    # it is not known and the way onward, not asked "请问您想办什么事"
    messages, _ = run(ActionSmallTalk(), tracker("你好，请问个税汇算在哪里办", "greet"))
    assert "没有找到" in messages[0]["text"] and "12345" in messages[0]["text"]


def test_two_items_each_named_and_both_asked_are_both_answered():
    messages, slots = run(ActionAnswerGuide(), tracker("我想问下办身份证和户口迁移各要带啥子", "ask_materials"))
    assert [m["text"].split("】")[0] for m in messages] == ["【居民身份证办理（包括临时）", "【户口迁移审批"]
    assert all("需要准备以下材料" in m["text"] for m in messages)
    # what follows without a name asks which of the two
    assert slots["item"] is None and slots["candidates"] == [item_id("居民身份证办理（包括临时）"), item_id("户口迁移审批")]
    # documents one has or brings are no second item
    for text in ("我有身份证和户口本，能办护照吗", "身份证和户口本都要带吗"):
        messages, _ = run(ActionAnswerGuide(), tracker(text, "ask_materials", {"item": item_id("普通护照签发")}))
        assert len(messages) == 1 and messages[0]["text"].startswith("【普通护照签发】"), text


def test_a_topic_word_said_in_passing_does_not_replace_the_options_the_search_found():
    # "读书" is a word of the school topic, but the story asks for help: the help the search found is offered or answered
    messages, slots = run(ActionAnswerGuide(), tracker("屋头条件困难 老公生病了干不了活 娃儿还在读书 有啥子救助没得", "ask_item"))
    help_ids = {item_id("临时救助"), item_id("最低生活保障")}
    assert help_ids <= set(slots.get("candidates") or [])  # which kinds of help there are: the kinds are offered
    assert "上学" not in messages[0]["text"] and "入学" not in messages[0]["text"]


def test_a_detail_of_oneself_stays_with_the_item_and_an_aside_about_another_thing_does_not():
    housing = {"item": item_id("公共租赁住房申请资格审核认定")}
    # "户口" tells who asks (a topic word, which alone would be asked back): the conditions of the item in context
    messages, _ = run(ActionAnswerGuide(), tracker("我是农村户口，够不够条件", "ask_item", housing))
    assert messages[0]["text"].startswith("【公共租赁住房申请资格审核认定】") and "受理条件" in messages[0]["text"]
    # something the knowledge base lacks, asked on the way: not the place of the item in context
    messages, _ = run(ActionAnswerGuide(), tracker("先插一句，电动车上牌在哪里办？", "ask_location_hours", housing))
    assert not messages[0]["text"].startswith("【") and "没有找到" in messages[0]["text"]
    messages, _ = run(ActionAnswerGuide(), tracker("顺便问下，要带啥子", "ask_materials", housing))  # the same item again
    assert messages[0]["text"].startswith("【公共租赁住房申请资格审核认定】")



def test_vague_openings_of_deregistration_and_certificates_are_asked_back_but_a_switch_names_its_item():
    for text, offered in (("想问下注销的事", {"个体工商户注销登记", "企业简易注销登记"}),
                          ("问下开证明的事", {"个人参保证明查询打印", "无犯罪记录证明"})):
        messages, _ = run(ActionAnswerGuide(), tracker(text, "ask_item"))
        assert offered <= {b["title"] for b in messages[0]["buttons"]}, text
    # "注销的话呢" right after the sole proprietor's registration: its own deregistration, not the topic's options
    messages, _ = run(ActionAnswerGuide(), tracker("注销的话呢", "ask_item", {"item": item_id("个体工商户设立登记")}))
    assert messages[0]["text"].startswith("【个体工商户注销登记】")


def test_a_generic_verb_after_an_answer_stays_with_the_item():
    # "申报" names no item: a follow-up with it is about the guide in context, not a catalogue item it ends the name of
    messages, _ = run(ActionAnswerGuide(), tracker("能在网上申报不", "ask_online", {"item": item_id("建筑工程施工许可证核发")}))
    assert messages[0]["text"].startswith("【建筑工程施工许可证核发】")


@pytest.mark.parametrize("text, name", [
    ("我叫袁野，电话13981230001", "袁野"), ("杨丽，18990331208", "杨丽"), ("罗志刚，电话19981234567", "罗志刚"),
    ("名字是吴小军，手机号18123456780", "吴小军"), ("13912345678", None), ("九点半", None),
    ("下周五晚上六点约个办护照，冯磊，18812345000", "冯磊"), ("帮我约下周二上午去注销个体户，叫韩梅，电话13666661234", "韩梅"),
    ("约个号，电话13912345678", None), ("好的，拜拜", None),
    ("下下周一上午十点约个残疾人证新办，我帮我妈约的，我妈叫冯秀英，电话13698761234", "冯秀英"),  # a relative comes
])
def test_a_name_given_with_the_phone_is_found(text, name):
    from actions.booking import details_in, name_in

    assert name_in(text) == name
    found = details_in(text, None, None)
    assert found.get("booking_name") == name
    assert ("booking_phone" in found) == any(c.isdigit() for c in text if c not in "九点半")


def test_a_day_and_a_later_time_in_one_message_make_one_slot_time():
    from bot.booking.dates import parse_when
    from bot.clock import TZ

    when = parse_when("我想下周四下班后去换身份证，要带哪些东西？帮我约个晚上六点的", dt.datetime(2026, 12, 2, 10, tzinfo=TZ))
    assert when.day_given and when.start == dt.datetime(2026, 12, 10, 18, 0)


def test_a_question_about_another_thing_in_the_booking_form_is_not_answered_with_the_item_booked():
    from rasa_sdk.executor import CollectingDispatcher

    from actions.booking import answered_in_the_form

    booking = {"booking_item": "个体工商户设立登记"}
    dispatcher = CollectingDispatcher()
    assert answered_in_the_form(dispatcher, tracker("先插一句，电动车上牌在哪里办？", "ask_location_hours", booking), "先插一句，电动车上牌在哪里办？")
    assert "没有找到" in dispatcher.messages[0]["text"]
    dispatcher = CollectingDispatcher()  # the item booked, asked about on the way: its answer
    assert answered_in_the_form(dispatcher, tracker("等一下 我先问下要带啥子材料", "ask_materials", booking), "等一下 我先问下要带啥子材料")
    assert dispatcher.messages[0]["text"].startswith("【个体工商户设立登记】")


def test_an_answer_word_is_not_taken_as_a_name():
    from rasa_sdk.executor import CollectingDispatcher

    from actions.booking import ValidateBookingForm

    dispatcher = CollectingDispatcher()
    result = ValidateBookingForm().validate_booking_name("是的", dispatcher, tracker("是的", "affirm", {}), {})
    assert result["booking_name"] is None and "姓名" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize("text", ["那要多久", "在哪里办", "不约了"])
def test_a_question_is_not_taken_as_a_name(text):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.booking import ValidateBookingForm

    result = ValidateBookingForm().validate_booking_name(text, CollectingDispatcher(), tracker(text, "ask_item", {}), {})
    assert result["booking_name"] is None


@pytest.mark.parametrize("text", ["好的，拜拜", "麻烦了，拜拜", "是的", "叫个人来"])
def test_a_goodbye_or_a_reply_is_never_taken_as_the_name(text):
    from actions.booking import ValidateBookingForm

    dispatcher = CollectingDispatcher()
    slots = ValidateBookingForm().validate_booking_name(text, dispatcher, tracker(text, "inform", {"booking_item": "普通护照签发"}), {})
    assert slots.get("booking_name") is None and "姓名" in dispatcher.messages[0]["text"]


def test_a_follow_up_whose_words_are_the_current_items_keeps_it():
    from actions.guides import still_about

    kb = get_index().kb
    remarriage, id_card, marriage = kb.by_name("补领结婚证"), kb.by_name("居民身份证办理（包括临时）"), kb.by_name("中国内地公民婚姻登记")
    assert still_about(remarriage, id_card, "补领要带啥子")  # 补领 fits the ID card too, but 补领结婚证 is in context
    assert not still_about(remarriage, marriage, "结婚登记那个呢")  # 登记 is the other item's own word: a switch
    assert not still_about(kb.by_name("普通护照签发"), kb.by_name("往来港澳通行证及签注签发"), "那港澳通行证呢")


@pytest.mark.parametrize("text, only", [("预约码：VBFXHG", True), ("电话15908761234", True), ("VBFXHG", True),
                                        ("编号3AJ2QR，手机13698761234", True), ("码BE83LA，手机15823456710", True),
                                        ("帮我查下预约码VBFXHG", False),
                                        ("预约码VBFXHG，改到下周", False)])
def test_a_message_with_only_the_code_or_the_mobile(text, only):
    from bot.booking.service import only_details

    assert only_details(text) is only


@pytest.mark.parametrize("text, booked_here, about_the_booking", [
    ("电话15908761234", True, True),  # the mobile alone, after a booking made or found here: that booking's
    ("电话15908761234", False, False),  # with no booking in this conversation it says nothing of one
    ("ZWWQX4", True, True), ("码是7J52CS", False, True), ("thanks", False, False),
    ("社保卡丢了，电话15908761234", True, False),  # more than the details: a question
])
def test_a_booking_is_meant_by_its_code_or_by_the_mobile_after_it_was_made_here(text, booked_here, about_the_booking):
    from bot.booking.service import gives_booking_details

    assert gives_booking_details(text, booked_here) is about_the_booking


def test_a_new_question_after_a_guide_is_not_taken_as_its_follow_up():
    from actions.guides import opens_new_topic, switches_item

    birth = get_index().kb.by_name("《出生医学证明》首次签发")
    assert opens_new_topic(birth, "再问个，住房公积金咋个提取出来")  # 公积金: nothing of the current guide
    assert not opens_new_topic(birth, "再问个，要多久") and not opens_new_topic(birth, "还有个事，收不收费")
    assert opens_new_topic(birth, "顺便问下 公积金取出来咋个弄")  # 问下 is a filler normalize() drops: the lead still counts
    rental = get_index().kb.by_name("公共租赁住房申请资格审核认定")
    assert opens_new_topic(rental, "驾驶证到期了在哪儿换")  # a document no guide names, even without a lead
    assert not opens_new_topic(rental, "要带户口本吗") and not opens_new_topic(rental, "收入证明要不要")
    assert switches_item("那护照呢") and switches_item("那港澳通行证呢")  # read as "no" by the classifier
    assert not switches_item("好的") and not switches_item("那好吧") and not switches_item("还有呢")


def test_asking_which_help_there_is_offers_the_kinds_of_help():
    _, slots = run(ActionAnswerGuide(), tracker("屋头困难得很，想问下有没有啥子救助", intent="ask_item"))
    offered = {get_index().kb.by_id(i).name for i in slots["candidates"]}
    assert {"最低生活保障", "临时救助"} <= offered and len(offered) <= MAX_OPTIONS


def test_a_topic_alone_is_asked_back_and_an_items_own_alias_is_answered():
    from actions.guides import only_a_topic

    assert only_a_topic("我想问哈养老保险") and only_a_topic("社保卡")  # several items share the word
    assert not only_a_topic("低保")  # 最低生活保障's own alias
    assert not only_a_topic("养老保险要交好多钱")  # a question is asked: the search answers it
    assert only_a_topic("问一下不动产登记")  # the topic's word and a word its items' names share (抵押登记, 转移登记)
    assert not only_a_topic("不动产继承")  # a word of one item (继承过户)


@pytest.mark.parametrize("text, name", [
    ("名字写错了 是张丽 美丽的丽 不是茉莉的莉", "张丽"),  # a correction of the name
    ("名字写我妈的 刘淑华 电话留我的 13709063385", "刘淑华"),  # "写我妈的" is no name
    ("申请人唐小军 电话是17318429063", "唐小军"), ("不对 是下周二", None),
    # the person spoken of, after a comma, and the name to write
    ("帮我爸约下周一上午办高龄津贴，他叫唐志远，电话13308131234", "唐志远"), ("娃儿叫邓小宇，我的电话13696541234", "邓小宇"),
    ("名字写吴浩然，电话17708131234", "吴浩然"), ("他叫啥来着", None),
    ("我是公司会计，谭静，13350812233", "谭静"),  # who the person is, then the name
    ("蒋伟 会计 电话18215630984", "蒋伟"),
])
def test_names_in_corrections_and_beside_the_phone(text, name):
    from actions.booking import name_in

    assert name_in(text) == name


def test_moving_or_cancelling_in_words_is_about_the_booking_made_here():
    from actions.guides import about_the_booking_made, corrects_the_read_back
    from bot.booking.service import moves_or_cancels

    assert moves_or_cancels("上午走不脱 挪到当天下午三点嘛") and moves_or_cancels("那我不跑了 预约退了嘛")
    assert not moves_or_cancels("那天要带啥子去")
    made = tracker("上午走不脱 挪到当天下午三点嘛", "nlu_fallback", {"manage_code": "36RNB9"})
    assert about_the_booking_made(made, made.latest_message["text"])
    assert not about_the_booking_made(tracker("上午走不脱 挪到当天下午三点嘛", "nlu_fallback"), "上午走不脱 挪到当天下午三点嘛")
    read_back = tracker("电话打错了 是13890274681", "inform", {"booking_request_id": "r1"})
    assert corrects_the_read_back(read_back, "电话打错了 是13890274681")
    assert not corrects_the_read_back(tracker("电话打错了 是13890274681", "inform"), "电话打错了 是13890274681")


def test_a_middling_rating_is_the_middle_level():
    from bot.handoff.ratings import level_of

    assert level_of("一般嘛") == "基本满意" and level_of("还行") == "基本满意" and level_of("一般的问题怎么办") is None


def _booking_tracker(text, intent, asked="booking_name"):
    t = tracker(text, intent, {"booking_item": "食品经营许可", "booking_date": "2026-12-14", "booking_time": "18:00"})
    t.events.insert(0, {"event": "slot", "name": "requested_slot", "value": asked})
    return t


@pytest.mark.parametrize("text, intent, leaves_for", [
    ("算了 你帮我转人工嘛 我想问下户口本不在身边咋个办", "nlu_fallback", "action_request_human"),
    ("这个预约不要了 同事说自助机就能打", "nlu_fallback", "action_booking_abandon"),
    ("拜拜", "goodbye", "action_booking_abandon"),
    ("胡建平", "deny", None),  # an answer to the question
    ("不对 是下周二 电话13890654321", "deny", None),  # a correction with the details: the form goes on
])
def test_a_message_that_leaves_the_booking_form(text, intent, leaves_for):
    from actions.booking import ValidateBookingForm

    events = asyncio.run(ValidateBookingForm().run(CollectingDispatcher(), _booking_tracker(text, intent), {}))
    followups = [e["name"] for e in events if e.get("event") == "followup"]
    if leaves_for:
        assert followups == [leaves_for] and {"event": "slot", "name": "requested_slot", "value": None} in [
            {k: e.get(k) for k in ("event", "name", "value")} for e in events]
    else:
        assert not followups


def test_a_name_read_as_no_where_the_name_was_asked_goes_on_with_the_booking():
    from actions.booking import ActionBookingAbandon

    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionBookingAbandon().run(dispatcher, _booking_tracker("胡建平", "deny"), {}))
    assert {"event": "slot", "name": "booking_name", "value": "胡建平"} in [{k: e.get(k) for k in ("event", "name", "value")} for e in events]
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["booking_form"] and not dispatcher.messages
    # asked for the phone, the same word is no name: the booking is dropped as said
    _, slots = run(ActionBookingAbandon(), _booking_tracker("算了", "deny", asked="booking_phone"))
    assert slots["booking_item"] is None


def test_a_goodbye_in_the_booking_form_drops_it_and_says_goodbye_with_the_rating():
    from actions.booking import ActionBookingAbandon

    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionBookingAbandon().run(dispatcher, _booking_tracker("拜拜", "goodbye"), {}))
    assert "没有为您预约" in dispatcher.messages[0]["text"] and dispatcher.messages[1]["response"] == "utter_goodbye"
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["action_offer_rating"]


def test_a_time_of_day_said_before_the_day_about_something_else():
    from bot.booking.dates import parse_when
    from bot.clock import TZ

    now = dt.datetime(2026, 12, 8, 9, 30, tzinfo=TZ)
    when = parse_when("我想打个社保参保证明 白天上班 明天傍晚能约不", now)
    assert when.day_given and when.start == dt.datetime(2026, 12, 9, 17, 0)
    when = parse_when("下午 明天有空", now)  # the day without its own time: that day, the time said first
    assert when.day_given and when.start == dt.datetime(2026, 12, 9, 13, 0)


@pytest.mark.parametrize("text, start", [
    ("我想约个办港澳通行证，这周五下班后，五点半以后嘛", dt.datetime(2026, 12, 11, 17, 30)),  # not 05:30 to now
    ("周五下午5点半以后", dt.datetime(2026, 12, 11, 17, 30)), ("下周二下午两点以后", dt.datetime(2026, 12, 15, 14, 0)),
    ("下周三下班以后", dt.datetime(2026, 12, 16, 17, 0)),  # after work: the evening
    ("小同志，我想约个周六去办身份证，这周六上午行不行？", dt.datetime(2026, 12, 12, 7, 0)),  # the day said again, with its part
    ("哦不对，下周三我要去成都，改下周四中午", dt.datetime(2026, 12, 17, 12, 0)),  # 改 right before the new day
])
def test_a_time_said_as_from_then_on_or_after_work(text, start):
    from bot.booking.dates import parse_when
    from bot.clock import TZ

    when = parse_when(text, dt.datetime(2026, 12, 8, 9, 30, tzinfo=TZ))
    assert when.day_given and when.start == start


@pytest.fixture
def hall(tmp_path):
    """A booking calendar on a fresh database, and a working day a week ahead: (database, schedule, day)."""
    from types import SimpleNamespace

    from bot import services
    from bot.booking.calendar import WorkCalendar
    from bot.booking.schedule import Schedule
    from bot.clock import now
    from bot.db import Database

    database = Database(f"sqlite:///{tmp_path / 'b.db'}")
    database.migrate()
    schedule = Schedule.load(calendar=WorkCalendar())
    day = now().date() + dt.timedelta(days=7)
    while not schedule.calendar.is_workday(day):
        day += dt.timedelta(days=1)
    services.use(SimpleNamespace(database=database, schedule=schedule))
    yield database, schedule, day
    services.use(None)


def test_an_evening_the_items_counter_never_opens_is_said_so(hall):
    from actions.booking import ActionAskBookingTime

    _, _, day = hall
    for item, closed in (("生育津贴支付", True), ("普通护照签发", False)):  # the police counter opens in the evening
        t = tracker("那天傍晚", "book_appointment", {"booking_item": item, "booking_date": day.isoformat(),
                                                 "booking_window": "17:00-18:59"})
        messages, _ = run(ActionAskBookingTime(), t)
        assert ("不开放预约" in messages[0]["text"]) is closed, messages[0]["text"]
    closed = run(ActionAskBookingTime(), tracker("那天傍晚", "book_appointment", {
        "booking_item": "生育津贴支付", "booking_date": day.isoformat(), "booking_window": "17:00-18:59"}))[0][0]["text"]
    assert "人社医保综合窗口" in closed and "17:00-19:00不开放预约" in closed  # the hour said back whole
    moment = run(ActionAskBookingTime(), tracker("晚上七点半", "book_appointment", {
        "booking_item": "生育津贴支付", "booking_date": day.isoformat(), "booking_window": "19:30-19:30"}))[0][0]["text"]
    assert "19:30不开放预约" in moment  # a moment said as one time, not "19:30-19:30"


@pytest.mark.parametrize("text, done", [("好的没了", True), ("没得了", True), ("没有了 谢谢", True), ("就这些", True),
                                        ("好 没有其他问题了", True), ("没有材料", False), ("没了吗", False),
                                        ("就这些材料吗", False), ("没得钱咋办", False),
                                        ("好的，我先去准备材料，谢谢", True), ("我先去准备材料要带啥，谢谢", False),
                                        ("我去哪里办，谢谢", False)])
def test_nothing_more_to_ask(text, done):
    from actions.service_question import says_nothing_more

    assert says_nothing_more(text) is done


@pytest.mark.parametrize("text, intent", [("好的没了", "affirm"), ("没得了", "nlu_fallback")])
def test_nothing_more_after_an_answer_is_a_goodbye_with_the_rating(text, intent):
    from actions.chitchat import ActionAcknowledge
    from actions.guides import ActionFallbackSearch

    action = ActionAcknowledge() if intent == "affirm" else ActionFallbackSearch()
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker(text, intent, {"item": item_id("普通护照签发")}), {}))
    assert dispatcher.messages[0]["response"] == "utter_goodbye"
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["action_offer_rating"]


def test_a_topic_with_filler_words_is_asked_back():
    from actions.guides import only_a_topic

    assert only_a_topic("想问一下老年人那方面的") and only_a_topic("社保方面的 问一下")
    assert not only_a_topic("老年人优待证")


def test_words_naming_two_items_equally_are_asked_back():
    resolution = get_index().resolve("残疾人补贴咋个申请")
    assert resolution.kind == "choose"
    assert {"困难残疾人生活补贴", "重度残疾人护理补贴"} <= {h.entry.name for h in resolution.hits}
    assert get_index().resolve("残疾人证咋个办").kind == "answer"


def test_a_short_follow_up_with_another_items_word_switches():
    from actions.guides import says_a_word_of

    kb = get_index().kb
    certificate, registration = kb.by_name("《出生医学证明》首次签发"), kb.by_name("出生登记")
    assert says_a_word_of(registration, certificate, "给娃上户口要带啥子")
    assert not says_a_word_of(kb.by_name("居民身份证办理（包括临时）"), kb.by_name("社会保障卡补领、换领、换发"), "换一张要多久")
    _, slots = run(ActionAnswerGuide(), tracker("给娃上户口要带啥子", "ask_materials", {"item": certificate.id}))
    assert slots["item"] == registration.id


def test_words_that_ask_an_aspect_are_no_other_items_word():
    # "好久" asks how long; that 个人参保证明's keyword "交了好久社保" holds it makes "要好久" no switch to it
    from actions.guides import says_a_word_of

    kb = get_index().kb
    proof, referral = kb.by_name("个人参保证明查询打印"), kb.by_name("异地就医备案")
    assert any("好久" in k for k in proof.keywords)
    assert not says_a_word_of(proof, referral, "要好久")
    assert says_a_word_of(proof, referral, "缴费记录要好久")


@pytest.mark.parametrize("text", ["要好久", "手机上弄得到不", "要跑几趟哦"])
def test_an_aspect_alone_stays_with_the_item_in_context_whatever_item_the_words_were_most_asked_of(text):
    index = get_index()
    referral = index.kb.by_name("异地就医备案")
    _, slots = run(ActionAnswerGuide(), tracker(text, "ask_time_limit", {"item": referral.id}))
    assert slots["item"] == referral.id


def test_the_kind_of_thing_a_reply_says_picks_before_the_story_it_answered():
    kb = get_index().kb
    card, allowance = kb.by_name("申领《四川省老年人优待证》"), kb.by_name("80周岁以上老年人高龄津贴发放")
    story = "我妈今年82了，老年人有啥子福利可以办"
    assert pick_candidate("领钱的那个", [card.id, allowance.id], story) == allowance
    assert pick_candidate("办证的那个", [card.id, allowance.id], story) == card


def test_a_detail_picks_among_the_options_though_its_words_fit_an_item_not_offered():
    kb = get_index().kb
    options = [kb.by_name(n).id for n in ("困难残疾人生活补贴", "重度残疾人护理补贴", "残疾人证新办")]
    messages, slots = run(ActionAnswerGuide(), tracker("还没办过证的 第一次办证那种", "inform", {"candidates": options}))
    assert messages[0]["text"].startswith("【残疾人证新办】") and slots["item"] == options[2]
    # an item named is still a switch away from the options
    messages, slots = run(ActionAnswerGuide(), tracker("社保卡掉了咋个补", "ask_procedure", {"candidates": options}))
    assert messages[0]["text"].startswith("【社会保障卡补领、换领、换发】")


@pytest.mark.parametrize("text", ["要好久", "要跑几趟哦"])
def test_an_aspect_alone_with_no_item_in_context_asks_which_matter(text):
    # the words alone may score as the item they were most asked of (要好久: 个人参保证明查询打印), which is a guess
    messages, slots = run(ActionAnswerGuide(), tracker(text, "ask_time_limit"))
    assert not slots.get("item") and not messages[0]["text"].startswith("【") and "哪" in messages[0]["text"]


def test_a_newborn_said_in_dialect_is_the_life_event():
    from knowledge.events import asked_event

    event = asked_event("屋头刚添了个幺儿 要办些啥子手续哦", get_index().kb.events)
    assert event is not None and event.id == "newborn"


def test_a_topic_that_is_also_an_items_word_offers_the_topics_items():
    _, slots = run(ActionAnswerGuide(), tracker("想问一下老年人那方面的", intent="ask_item"))
    offered = {get_index().kb.by_id(i).name for i in slots["candidates"]}
    assert {"80周岁以上老年人高龄津贴发放", "申领《四川省老年人优待证》"} <= offered


@pytest.mark.parametrize("text, says", [("确认", "还需要办事人的身份证号"), ("51112619900101123", "应为18位")])
def test_a_yes_where_the_id_number_is_asked_is_told_what_is_missing(text, says):
    from actions.booking import ValidateBookingForm

    dispatcher = CollectingDispatcher()
    slots = ValidateBookingForm().validate_booking_id_number(text, dispatcher, tracker(text, "affirm", {"booking_item": "补领结婚证"}), {})
    assert slots == {"booking_id_number": None} and says in dispatcher.messages[0]["text"]


def test_looking_up_while_the_booking_waits_for_a_yes_reads_it_back_again():
    from actions.booking import ActionStartManage

    pending = {"booking_request_id": "r1", "booking_item": "生育津贴支付", "booking_date": "2026-12-10", "booking_time": "09:00"}
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionStartManage().run(dispatcher, tracker("我约的是哪天 再跟我说一遍嘛", "cancel_appointment", pending), {}))
    assert "还没有确认" in dispatcher.messages[0]["text"]
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["action_confirm_booking"]
    # nothing waiting: the look-up of a booking made asks for its code and mobile, as before
    events = asyncio.run(ActionStartManage().run(CollectingDispatcher(), tracker("我约的是哪天", "cancel_appointment", {}), {}))
    assert [e["name"] for e in events if e.get("event") == "followup"] == ["manage_form"]


def test_a_correction_at_the_read_back_read_as_a_goodbye_corrects_the_booking():
    from actions.chitchat import ActionGoodbye

    t = tracker("不是周四 搞错了 是周五 其他不变", "goodbye", slots={"booking_request_id": "r1", "booking_item": "中国内地公民婚姻登记"})
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionGoodbye().run(dispatcher, t, {}))
    assert not dispatcher.messages and events == [{"event": "followup", "name": "action_booking_change", "timestamp": None}]


def test_asking_for_everything_about_the_situation_an_events_first_step_is_for_gets_the_event():
    from knowledge.events import event_begun_by

    events = get_index().kb.events
    story = "我老婆上个礼拜在县医院生了个儿子，现在要给娃儿办些啥子手续哦"
    assert event_begun_by(story, "《出生医学证明》首次签发", events).name == "新生儿出生"
    assert event_begun_by("出生医学证明在哪里领", "《出生医学证明》首次签发", events) is None  # one thing asked
    assert event_begun_by(story, "出生登记", events) is None  # not the event's first step
    # school entry's first step is for local children only: a step of its own, not the start of every school entry
    assert event_begun_by("孩子今年小学毕业要上初中了，我们家住在县城，按片区读初中要办哪些手续？", "学前教育、义务教育阶段入学办理",
                          events) is None


def test_a_time_limit_asked_by_its_name_is_that_aspect():
    from knowledge.answers import aspects_in

    assert aspects_in("办理时限呢") == ["time_limit"]


def test_what_there_is_for_the_elderly_is_their_life_event_and_one_of_its_steps_named_in_full_is_that_step():
    for text in ("我妈今年82了，老年人有啥子可以办的没得", "我妈今年七十五了，老年人这方面政府能给办些啥子事情"):
        messages, _ = run(ActionAnswerGuide(), tracker(text, "ask_item"))
        assert messages[0]["text"].startswith("【一件事：老年人福利】"), text
    messages, slots = run(ActionAnswerGuide(), tracker("老年人优待证要办哪些手续", "ask_procedure"))
    assert messages[0]["text"].startswith("【申领《四川省老年人优待证》】")


def test_a_topic_opened_and_asked_in_one_message_is_answered_when_the_item_is_clear():
    text = "喂你好我想问一下那个养老金的事情就是我妈满六十岁了农村户口的咋个领"
    messages, slots = run(ActionAnswerGuide(), tracker(text, "ask_procedure"))
    assert messages[0]["text"].startswith("【城乡居民基本养老保险待遇申领】")
    messages, _ = run(ActionAnswerGuide(), tracker("想问下我老汉儿养老保险的事情", "ask_item"))  # the question still to come
    assert not messages[0]["text"].startswith("【")


def test_a_question_read_as_a_goodbye_is_never_answered_with_one():
    from actions.chitchat import ActionGoodbye

    # no word of a goodbye, and a question the knowledge base does not know: told so, with the way onward
    messages, _ = run(ActionGoodbye(), tracker("我的驾照六年有效期快到了，要换新的，去哪里换，要不要先体检？", "goodbye"))
    assert "没有找到" in messages[0]["text"] and messages[0].get("response") != "utter_goodbye"
    messages, _ = run(ActionGoodbye(), tracker("好的，谢谢，再见", "goodbye"))
    assert messages[0]["response"] == "utter_goodbye"
    messages, _ = run(ActionGoodbye(), tracker("问下医保的", "goodbye"))  # a topic, no goodbye word: asked back
    assert "医保电子凭证申领" in {b["title"] for b in messages[0]["buttons"]} and messages[0].get("response") != "utter_goodbye"


def test_a_topic_that_lacks_the_item_the_story_is_sure_of_is_not_offered_instead():
    # "补助" is a word of the relief topic, but an 85-year-old's monthly money is the old-age allowance
    messages, _ = run(ActionAnswerGuide(), tracker("外婆八十五了，每个月有补助领没", "ask_item"))
    assert messages[0]["text"].startswith("【80周岁以上老年人高龄津贴发放】")


def test_who_pays_the_pension_picks_among_the_pension_options():
    options = [item_id(n) for n in ("城乡居民基本养老保险参保登记", "灵活就业人员企业职工基本养老保险参保登记",
                                    "城乡居民基本养老保险待遇申领", "企业职工基本养老保险正常退休申请")]
    assert pick_candidate("我也说不来是哪个，我是农村的，没得单位，想自己交", options).name == "城乡居民基本养老保险参保登记"
    # no employer alone says neither scheme: an odd-job worker pays the employees' scheme as a flexible worker
    resolution = get_index().resolve("我在外头打零工，没得单位，自己交养老保险咋个办")
    assert resolution.entry.name == "灵活就业人员企业职工基本养老保险参保登记"


def test_an_aspect_alone_picks_no_option_by_its_words():
    options = [item_id(n) for n in ("异地就医备案", "医保电子凭证申领", "基本医疗保险参保人员享受门诊慢特病病种待遇认定", "生育津贴支付")]
    # "手机上" is said most of the e-voucher, but here it asks whether any of them can be done online
    assert pick_candidate("手机上能办不", options) is None


def test_a_score_followed_by_a_comment_is_a_rating():
    from bot.handoff.ratings import level_of

    assert level_of("3分嘛，说得太长了") == "基本满意" and level_of("3分钟就好了") is None


def test_about_to_retire_asking_for_everything_gets_the_retirement_steps():
    messages, _ = run(ActionAnswerGuide(), tracker("我明年3月满50，厂里工人，要退休了，要办些啥子", "ask_item"))
    assert messages[0]["text"].startswith("【一件事：退休】")


def test_the_time_question_goes_on_after_details_a_yes_or_a_number(hall):
    from actions.booking import ActionAskBookingTime, ValidateBookingForm

    _, _, day = hall
    slots = {"booking_item": "中国内地公民婚姻登记", "booking_date": day.isoformat()}
    form = ValidateBookingForm()
    # a name and phone instead of a time: kept, and the times offered again saying so (no "no seat then")
    dispatcher = CollectingDispatcher()
    given = form.validate_booking_time("我叫赵小军，电话13547892210", dispatcher, tracker("我叫赵小军，电话13547892210", "inform", slots), {})
    assert given["booking_time"] is None and given["booking_phone"] == "13547892210" and not dispatcher.messages
    asked, _ = run(ActionAskBookingTime(), tracker("", "inform", {**slots, **given}))
    assert "已记下" in asked[0]["text"] and "第一个" in asked[0]["text"]
    offered = [b["title"] for b in asked[0]["buttons"]]
    # "对，就这样" takes the first time offered, "第二个" the second
    first = form.validate_booking_time("对，就这样", CollectingDispatcher(), tracker("对，就这样", "affirm", slots), {})
    second = form.validate_booking_time("第二个", CollectingDispatcher(), tracker("第二个", "inform", slots), {})
    assert first["booking_time"] in offered[0] and second["booking_time"] in offered[1]
    # nothing of a time said: asked again, without "这个时间没有空位了"
    dispatcher = CollectingDispatcher()
    assert form.validate_booking_time("嗯那个嘛", dispatcher, tracker("嗯那个嘛", "inform", slots), {})["booking_time"] is None
    assert not any("没有空位" in (m.get("text") or "") for m in dispatcher.messages)


def test_the_code_and_mobile_sent_right_after_a_move_are_told_it_is_done(hall):
    from actions.booking import ActionManageBooking
    from bot.booking import service

    database, schedule, day = hall
    with database.session() as s:
        booking = service.book(db_session=s, schedule=schedule, item_name="食品经营许可", day=day, start="09:00",
                               name="周晓燕", phone="17781920365")
        s.commit()
        code = booking.code
    slots = {"manage_code": code, "manage_phone": "17781920365", "manage_op": "lookup"}
    moved = tracker("17781920365", "inform", slots)
    moved.events.insert(0, {"event": "bot", "text": f"改期成功，预约码不变。预约码 {code}（有效）：…"})
    messages, _ = run(ActionManageBooking(), moved)
    assert messages[0]["text"].startswith("为您查到") and messages[0]["text"].endswith("刚才已改期成功，预约码不变。")
    messages, _ = run(ActionManageBooking(), tracker("17781920365", "inform", slots))  # no move before: a look-up
    assert messages[0]["text"].startswith("为您查到") and "改期" not in messages[0]["text"]


def test_a_choice_that_asks_in_words_gets_what_it_asks():
    """"第二个，咋个申请" after the relief topic's options: the overview and the steps of the second, not the aspect asked
    before (the choice had answered the overview alone)."""
    from actions.guides import ActionChooseItem
    candidates = [item_id(n) for n in ("临时救助", "最低生活保障", "特困人员救助供养")]
    messages, slots = run(ActionChooseItem(), tracker("第二个，咋个申请", "choose_item", {"candidates": candidates, "aspect": "item"}))
    text = messages[0]["text"]
    assert slots["item"] == candidates[1] and "受理条件" in text and "办理流程" in text
    messages, slots = run(ActionChooseItem(), tracker("第二个，要好久", "choose_item", {"candidates": candidates, "aspect": "item"}))
    assert "办结时限" in messages[0]["text"] and slots["aspect"] == "time_limit"
    messages, slots = run(ActionChooseItem(), tracker("第二个", "choose_item", {"candidates": candidates, "aspect": "fee"}))
    assert "收费" in messages[0]["text"] and slots["aspect"] == "fee"  # nothing asked: the aspect asked before
    # nothing asked, after "残疾人补贴怎么申请" (how: the overview and the steps), as the question would have been answered
    t = tracker("第二个", "choose_item", {"candidates": candidates, "aspect": "item"})
    t.events[:0] = [{"event": "user", "text": "帮我爸问一下，残疾人补贴怎么申请？"}]
    messages, slots = run(ActionChooseItem(), t)
    assert "受理条件" in messages[0]["text"] and "办理流程" in messages[0]["text"] and slots["aspect"] == "item"


def test_papers_in_general_are_asked_back_with_the_common_documents():
    """"问下办证的事" (which papers?) is asked back with the documents people most often get, not "not found"."""
    topic = topic_of("问下办证的事")
    assert topic is not None and {"普通护照签发", "往来港澳通行证及签注签发", "居民身份证办理（包括临时）"} <= set(topic.items)
    assert topic_of("身份证的事").name == "身份证" and topic_of("残疾证的事").name == "残疾人"  # a longer word wins
    messages, slots = run(ActionAnswerGuide(), tracker("问下办证的事", "ask_item"))
    assert "哪一项" in messages[0]["text"] and item_id("普通护照签发") in slots["candidates"]


def test_which_support_a_kind_of_help_has_is_asked_back():
    """"创业那方面有啥扶持，问下": which kinds of help there are, offered (the loan and the subsidy), not one answered."""
    messages, slots = run(ActionAnswerGuide(), tracker("创业那方面有啥扶持，问下", "ask_item"))
    assert {item_id("创业补贴申请"), item_id("个人创业担保贷款申请")} <= set(slots["candidates"])


@pytest.mark.parametrize("text", ["你是机器人哇？你说快了我没听清，给我找个接电话的妹儿嘛", "你们领导电话多少", "我要找你们领导"])
def test_someone_who_answers_the_phone_or_is_in_charge_is_a_person(text):
    from actions.desk import wants_a_person
    assert wants_a_person(text)


def test_a_score_with_praise_is_a_rating():
    from bot.handoff.ratings import level_of
    assert level_of("五星好评") == "非常满意" and level_of("一星差评") == "非常不满意" and level_of("好评如潮的店") is None


def test_nage_before_the_ge_of_a_word_is_no_filler():
    """"那个体户呢，也要跑那么多趟嗦": 那 + 个体户, not the filler 那个 + 体户 (which named nothing)."""
    from knowledge.normalize import normalize
    assert normalize("那个体户呢") == "那个体户" and normalize("我想问那个身份证") == "身份证"
    assert get_index().resolve("那个体户呢，也要跑那么多趟嗦").entry.name == "个体工商户设立登记"


def test_a_pause_before_a_corrected_mobile_is_no_name():
    """"等一哈，电话是136…，后头两个数搞反了" at the read-back: the mobile is corrected, the name stays (it became 等一哈)."""
    from actions.booking import name_in
    assert name_in("等一哈，电话是13628153374，后头两个数搞反了") is None and name_in("稍等，电话13628153374") is None
    assert name_in("罗文华，13628153347") == "罗文华"


def test_a_code_or_mobile_said_again_as_a_correction_is_only_the_details():
    """"哦念错了，是9LRR5U" after a look-up that found nothing: the corrected code, looked up again (it got a goodbye)."""
    from bot.booking.service import gives_booking_details
    assert gives_booking_details("哦念错了，是9LRR5U", True) and gives_booking_details("哦说错了，是15183396420", True)
    assert gives_booking_details("不好意思，刚才说错了，码是9LRR5U", False)
    assert not gives_booking_details("我想问下9LRR5U是啥", True)


def test_a_code_misremembered_in_the_conversation_that_booked_is_told_the_right_one(hall):
    """"那个码是789456对不？电话138…" in the conversation that made the booking: its booking and code (the
    conversation was told it); the same mobile and a wrong code from any other conversation: not found, as ever."""
    from actions.booking import ActionManageBooking
    from bot.booking import service

    database, schedule, day = hall
    with database.session() as s:
        mine = service.book(db_session=s, schedule=schedule, item_name="食品经营许可", day=day, start="09:00",
                            name="钟玉兰", phone="13881330562", conversation_id="test").code
        elsewhere = service.book(db_session=s, schedule=schedule, item_name="申领《四川省老年人优待证》", day=day, start="10:00",
                                 name="钟玉兰", phone="13881330562", conversation_id="webchat-another").code
        s.commit()
    slots = {"manage_code": "789456", "manage_phone": "13881330562", "manage_op": "lookup"}
    messages, events = run(ActionManageBooking(), tracker("那个码是789456对不？电话13881330562", "lookup_appointment", slots))
    assert mine in messages[0]["text"] and elsewhere not in messages[0]["text"] and "不对" in messages[0]["text"]
    assert events["manage_code"] == mine
    cancel = {**slots, "manage_op": "cancel"}
    messages, _ = run(ActionManageBooking(), tracker("取消，码789456，电话13881330562", "cancel_appointment", cancel))
    assert mine in messages[0]["text"] and "再说一次" in messages[0]["text"]
    with database.session() as s:
        assert s.scalar(service.select(service.Booking).where(service.Booking.code == mine)).status == "active"  # not cancelled
    other = {**slots, "manage_phone": "13900001111"}
    messages, _ = run(ActionManageBooking(), tracker("码789456，电话13900001111", "lookup_appointment", other))
    assert messages[0]["text"].startswith(service.NOT_FOUND) and mine not in messages[0]["text"]


def test_a_database_fault_while_looking_for_the_conversations_booking_still_answers_not_found(hall, monkeypatch, caplog):
    """The look-up of the conversation's own booking runs after the code was not found; if the database fails there,
    the citizen still gets the one "not found" answer, and the log names no mobile."""
    from sqlalchemy.exc import OperationalError

    from actions import booking as booking_actions
    from bot.booking import service

    def not_found(_fn):
        raise service.NotFound(service.NOT_FOUND)

    def broken(_fn):
        raise OperationalError("SELECT … WHERE phone = ?", ("13881330562",), Exception("database is locked"))

    calls = iter([not_found, broken])
    monkeypatch.setattr(booking_actions, "with_session", lambda fn: next(calls)(fn))
    slots = {"manage_code": "789456", "manage_phone": "13881330562", "manage_op": "lookup"}
    with caplog.at_level(logging.WARNING):
        messages, events = run(booking_actions.ActionManageBooking(),
                               tracker("那个码是789456对不？电话13881330562", "lookup_appointment", slots))
    assert messages[0]["text"].startswith(service.NOT_FOUND) and events["manage_code"] is None
    assert "OperationalError" in caplog.text and "13881330562" not in caplog.text


def test_asked_which_kinds_of_help_there_are_the_kinds_are_offered_when_several_fit():
    """A long story that asks 有啥子救助 and that more than one kind of help fits gets the kinds to choose from, the
    search's best first; one that a single kind fits (a fire: temporary relief) is answered with it, and so is a 补贴
    asked after with a story that picks it."""
    messages, slots = run(ActionAnswerGuide(), tracker("屋头条件困难 老公生病了干不了活 娃儿还在读书 有啥子救助没得", "ask_item"))
    names = [get_index().kb.by_id(i).name for i in slots["candidates"]]
    assert names[:2] == ["最低生活保障", "临时救助"] and len(messages[0]["buttons"]) <= 4 and slots.get("item") is None
    for text, item in (("我们屋头前天晚上失火了，房子烧了一半，有没得啥子救助哦", "临时救助"),
                       ("我老汉是一级肢体残疾，常年瘫在床上要人照顾，政府有没有啥子补贴", "重度残疾人护理补贴")):
        messages, slots = run(ActionAnswerGuide(), tracker(text, "ask_item"))
        assert messages[0]["text"].startswith(f"【{item}】"), text


def test_a_step_is_chosen_only_when_every_clause_of_its_condition_is_said():
    from knowledge.events import chosen_step, events

    by_id = {event.id: event for event in events()}
    closing, abroad = by_id["close-business"], by_id["travel-abroad"]
    # the company's step also needs no debts and taxes settled: "公司…要注销" lists both steps with their conditions
    assert chosen_step(closing, "公司开不下去了，想注销掉，要办些啥子") is None
    assert chosen_step(closing, "个体户不开了要办些啥").item == "个体工商户注销登记"
    assert chosen_step(abroad, "去香港耍要办啥子证件").item == "往来港澳通行证及签注签发"  # 香港、澳门: either


def test_a_time_said_with_the_name_moves_the_time_chosen_before(hall):
    from actions.booking import ValidateBookingForm

    _, _, day = hall
    text = "九点半，胡建华，13568840327"
    slots = {"booking_item": "失业登记", "booking_date": day.isoformat(), "booking_time": "09:00"}
    result = ValidateBookingForm().validate_booking_name(text, CollectingDispatcher(), tracker(text, "inform", slots), {})
    assert result["booking_name"] == "胡建华" and result["booking_time"] == "09:30" and result["booking_phone"] == "13568840327"


def test_a_second_cue_names_the_person_when_the_first_does_not():
    from actions.booking import name_in

    assert name_in("十点钟，我是代办的，他女儿，我叫蒋红，电话13419087765") == "蒋红"
    assert name_in("我是代办的") is None


@pytest.mark.parametrize("text, fixed", [
    ("哎电话说错了，后头是2201，不是2210", "13547892201"), ("不是2210，是2201", "13547892201"), ("尾号2201", "13547892201"),
    ("电话说错了", None), ("后头是2210", None), ("后面是99", "13547892299"),
])
def test_a_mobile_corrected_by_its_last_digits(text, fixed):
    from actions.booking import phone_tail_fixed

    assert phone_tail_fixed(text, "13547892210") == fixed


def test_a_word_the_item_in_context_shares_keeps_it_for_the_booking(hall):
    from actions.booking import bookable_item

    closing = item_id("个体工商户注销登记")
    assert bookable_item("我是个体户，约个这周六上午", closing)[0] == "个体工商户注销登记"  # not 个体工商户设立登记
    assert bookable_item("帮我约个身份证", item_id("社会保障卡申领"))[0] == "居民身份证办理（包括临时）"
    assert bookable_item("约个明天傍晚六点去办公司登记", None)[0] == "有限责任公司设立登记"  # (公司登记: not the company's 社保登记)
    # 居住证 is a keyword of the migrant children's schooling, not its name: the permit is booked
    schooling = item_id("进城务工人员随迁子女接受义务教育入学申请办理")
    assert bookable_item("那居住证约个这周六上午十点，我叫龙光明，电话18685120473", schooling)[0] == "居住证办理"


def test_a_mobile_corrected_after_not_found_looks_up_with_the_code_said_before(hall):
    """"码是MYZBVG", then "电话151…40" not found, then "哦说错了，是151…20": the look-up, with the code of two messages
    before (it started a new booking)."""
    from actions.booking import ActionRouteChange, ActionStartManage
    from bot.booking import service

    said = ["帮我查下预约嘛，码是MYZBVG", "电话15183396240", "哦说错了，是15183396420"]
    events = [{"event": "user", "text": t, "parse_data": {"intent": {"name": "inform"}}} for t in said]
    events.insert(2, {"event": "bot", "text": service.NOT_FOUND + "：请核对预约码和预约时留的手机号。"})
    t = Tracker("test", {}, {"text": said[-1], "intent": {"name": "change_booking", "confidence": 0.9}, "entities": []},
                events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    routed = asyncio.run(ActionRouteChange().run(dispatcher, t, {}))
    assert routed[-1]["name"] == "action_start_manage"
    started = asyncio.run(ActionStartManage().run(dispatcher, t, {}))
    slots = {e["name"]: e["value"] for e in started if e.get("event") == "slot"}
    assert slots["manage_code"] == "MYZBVG" and slots["manage_phone"] == "15183396420"


def test_looking_up_again_in_words_once_a_booking_was_found_here():
    from actions.guides import about_the_booking_made

    found = {"manage_code": "XN5XXZ", "manage_phone": "13881330562"}
    assert about_the_booking_made(tracker("那你再帮我查下嘛，电话就是这个", "inform", found), "那你再帮我查下嘛，电话就是这个")
    assert not about_the_booking_made(tracker("再帮我查下社保卡要带啥", "ask_materials", found), "再帮我查下社保卡要带啥")
    assert not about_the_booking_made(tracker("那你再帮我查下嘛", "inform", {}), "那你再帮我查下嘛")


def test_a_step_done_and_the_rest_asked_lists_the_event_it_is_part_of():
    """"公司执照办下来了，接下来还要办些啥子": the company's registration is done; the steps of opening a company, with the
    seal, the invoices and the social insurance (it was offered the registration alone)."""
    messages, slots = run(ActionAnswerGuide(), tracker("公司执照办下来了，接下来还要办些啥子", "ask_item"))
    assert messages[0]["text"].startswith("【一件事：开公司】")
    assert {item_id("印章刻制备案"), item_id("发票票种核定")} <= set(slots["candidates"])


@pytest.mark.parametrize("intent", ["chitchat", "ask_item", "nlu_fallback"])
def test_not_heard_says_the_last_answer_again(intent):
    """"你说慢点 没听清" (on the phone above all): the assistant's messages of the turn before, again, whichever way the
    classifier read it; a question with the words is still answered."""
    from actions.guides import ActionFallbackSearch

    action = {"chitchat": ActionSmallTalk(), "ask_item": ActionAnswerGuide(), "nlu_fallback": ActionFallbackSearch()}[intent]
    t = tracker("你说慢点 没听清", intent)
    answer = "【最低生活保障】夹江县民政局\n受理条件：…"
    t.events[:0] = [{"event": "user", "text": "低保咋个申请"}, {"event": "bot", "text": answer, "data": {"buttons": [{"title": "申请代办", "payload": "申请代办"}]}}]
    messages, _ = run(action, t)
    assert messages[0]["text"] == "好的，我再说一遍：" and messages[1]["text"] == answer and messages[1]["buttons"][0]["title"] == "申请代办"
    t = tracker("没听清 低保要带啥子", "ask_materials")  # something asked besides: answered
    t.events[:0] = [{"event": "user", "text": "低保咋个申请"}, {"event": "bot", "text": answer}]
    messages, _ = run(ActionAnswerGuide(), t)
    assert messages[0]["text"].startswith("【最低生活保障】") and "材料" in messages[0]["text"]


def test_a_choice_by_number_that_names_another_option_by_a_word_of_its_names_is_that_option():
    candidates = [item_id("个体工商户注销登记"), item_id("企业简易注销登记")]
    assert pick_candidate("第二个，个体户那个", candidates).name == "个体工商户注销登记"  # 个体户: an alias of the first only
    assert pick_candidate("第二个", candidates).name == "企业简易注销登记"


def test_the_id_number_given_with_a_booking_is_no_id_card_to_book():
    from actions.booking import item_of

    text = "我们是要领证，帮我们约下周四上午，陈思远，13990812345，身份证511126199503124218"
    assert item_of(text) is None or item_of(text).name != "居民身份证办理（包括临时）"
    assert item_of("约个结婚登记，身份证号11010519491231002X").name == "中国内地公民婚姻登记"
    assert item_of("身份证丢了，帮我约明天上午").name == "居民身份证办理（包括临时）"


def test_an_everyday_word_a_guide_also_says_keeps_the_follow_up_on_the_item():
    # "直接" is a word of 异地就医备案 (直接结算): "网上能不能直接打" after the insurance record is still about the record
    messages, _ = run(ActionAnswerGuide(), tracker("网上能不能直接打", "ask_online", {"item": item_id("个人参保证明查询打印")}))
    assert messages[0]["text"].startswith("【个人参保证明查询打印】")
