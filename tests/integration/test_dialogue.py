"""Multi-turn conversations through the real app and the real trained Rasa model."""
import httpx

from knowledge.service import get_index


def guide(name):
    return get_index().kb.by_name(name)


def material_names(text):
    return [line.split(". ", 1)[1].split("（")[0] for line in text.splitlines() if line[:1].isdigit() and ". " in line]


def test_health_is_ready(stack):
    body = httpx.get(f"{stack.url}/healthz").json()
    assert body["rasa"] is True and body["guides"] >= 54


def test_materials_then_follow_ups_keep_the_item(chat):
    id_card = guide("居民身份证办理（包括临时）")
    replies = chat("身份证丢了要带什么去补办")
    text = replies[0]["text"]
    assert id_card.name in text and id_card.department in text and id_card.verified in text
    assert material_names(text) == [m.name for m in id_card.materials]  # exactly the guide's materials
    assert replies[0]["buttons"]

    text = chat("那要多久?")[0]["text"]
    assert id_card.name in text and f"{id_card.get('承诺办结时限')}个工作日" in text

    text = chat("在哪里办?")[0]["text"]
    assert id_card.name in text and id_card.get("办理地点") in text


def test_visits_for_a_sole_proprietorship(chat):
    item = guide("个体工商户设立登记")
    text = chat("开个体户要跑几次")[0]["text"]
    assert item.name in text and str(item.get("到办事现场次数")) in text


def test_vague_question_asks_which_one_and_the_choice_is_answered(chat):
    replies = chat("办证")
    buttons = replies[0]["buttons"]
    assert len(buttons) >= 2 and all(b["payload"].startswith("/choose_item") for b in buttons)
    chosen = buttons[0]["title"]
    text = chat(buttons[0]["payload"])[0]["text"]
    assert chosen in text
    text = chat("要钱不")[0]["text"]
    assert chosen in text and "收费" in text


def test_pinyin_mixed_in_is_understood(chat):
    item = guide("创业补贴申请")
    text = chat("chuangye补贴多久能daozhang啊")[0]["text"]
    assert item.name in text and f"{item.get('承诺办结时限')}个工作日" in text


def test_unknown_item_is_not_invented(chat):
    replies = chat("我想申请火星移民签证要带什么材料")
    text = replies[0]["text"]
    assert "没有找到" in text and "12345" in text and "https://www.sczwfw.gov.cn/" in text
    assert "需要准备以下材料" not in text


def test_catalogue_only_item_is_routed(chat):
    name = "适龄儿童、少年因身体状况需要延缓入学或者休学审批"
    text = chat(name + "需要什么材料")[0]["text"]
    assert name in text and "夹江县教育局" in text and "四川政务服务网" in text and "需要准备以下材料" not in text
    reply = chat("适龄儿童因身体状况需要延缓入学审批要什么材料")[0]
    if reply["buttons"] and reply["buttons"][0]["title"] == name:  # offered as the likely item
        reply = chat(reply["buttons"][0]["payload"])[0]
    assert name in reply["text"] and "夹江县教育局" in reply["text"]


def test_greeting_and_out_of_scope(chat):
    assert "政务服务" in chat("你好")[0]["text"]
    assert "不在政务服务范围" in chat("帮我推荐个火锅店")[0]["text"]


def test_asking_for_a_person_with_nobody_on_duty_offers_a_message_and_the_hotline(chat):
    reply = chat("转人工")[0]
    assert "12345" in reply["text"] and [b["title"] for b in reply["buttons"]] == ["留言", "预约回电", "不用了"]
