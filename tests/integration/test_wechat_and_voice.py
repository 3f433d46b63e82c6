"""WeChat and phone calls end to end: the real app process, the real trained Rasa model, messages built with
wechatpy (signed, encrypted in safe mode, replies decrypted) and Twilio webhooks signed with twilio's
RequestValidator; TwiML parsed with an XML parser. WeChat's API is a local fake; a proxy in front of Rasa
can make the assistant slow."""
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from bot.launcher import LOG_DIR, free_port, start_app, stop, wait_for
from channels import voice, wechat
from knowledge.service import get_index
from tests.channel_helpers import (
    OPERATOR,
    TWILIO_TOKEN,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    Caller,
    FakeWeChatAPI,
    SlowRasa,
    WeChatUser,
    message_xml,
    said,
)

PUBLIC = "https://12345.jiajiang.example.gov.cn"


@dataclass
class Live:
    url: str
    wechat_api: FakeWeChatAPI
    rasa: SlowRasa


@pytest.fixture(scope="module")
def live(stack, tmp_path_factory):
    """The app with both channels enabled, on the shared Rasa (through the delaying proxy)."""
    api, proxy = FakeWeChatAPI(), SlowRasa(f"http://127.0.0.1:{stack.rasa_port}")
    port, log = free_port(), "app-channels-test.log"
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('channels') / 'app.db'}", "RASA_URL": proxy.url, "PUBLIC_URL": PUBLIC,
        "WECHAT_ENABLED": "true", "WECHAT_MODE": "safe", "WECHAT_TOKEN": WECHAT_TOKEN, "WECHAT_APP_ID": WECHAT_APP_ID,
        "WECHAT_APP_SECRET": WECHAT_APP_SECRET, "WECHAT_ENCODING_AES_KEY": WECHAT_AES_KEY, "WECHAT_API_BASE": api.base,
        "VOICE_ENABLED": "true", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "VOICE_OPERATOR_NUMBER": OPERATOR,
        "VOICE_ASSISTANT_TIMEOUT": "4",
    }
    process = start_app(port, stack.rasa_port, log_name=log, extra_env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process, 120, log)
        yield Live(f"http://127.0.0.1:{port}", api, proxy)
    finally:
        stop(process)
        api.close()
        proxy.close()
        print(f"app log: {LOG_DIR / log}")


@pytest.fixture
def http(live):
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


@pytest.fixture
def slow(live):
    """Set live.rasa.delay inside a test; reset afterwards."""
    yield live.rasa
    live.rasa.delay = 0.0


def guide(name):
    return get_index().kb.by_name(name)


# --- WeChat ----------------------------------------------------------------------------------------

def test_wechat_server_check(http):
    user = WeChatUser(http)
    assert http.get("/channels/wechat", params={**user.signed_query("1700000000", "abc"), "echostr": "hello"}).text == "hello"
    forged = WeChatUser(http, token="wrong")
    assert http.get("/channels/wechat", params={**forged.signed_query("1700000000", "abc"), "echostr": "hello"}).status_code == 403


def test_wechat_text_answer_with_link_and_numbered_options(http):
    id_card = guide("居民身份证办理（包括临时）")
    user = WeChatUser(http)
    content = user.say("身份证丢了要带什么去补办")
    assert id_card.name in content and id_card.department in content and id_card.verified in content
    assert all(m.name in content for m in id_card.materials)
    assert f"完整办事指南：{PUBLIC}/guides/{id_card.id}" in content
    assert "回复1：办理流程" in content and "回复2：办理时限" in content
    content = user.say("2")  # the second option: 办理时限
    assert id_card.name in content and "承诺办结时限" in content and f"{id_card.get('承诺办结时限')}个工作日" in content


def test_wechat_choice_by_number(http):
    user = WeChatUser(http)
    content = user.say("办证")
    assert "请回复数字" in content and "1. " in content and "回复1：" not in content
    first = content.split("1. ", 1)[1].splitlines()[0]
    assert first in user.say("1")


def test_wechat_voice_message_with_and_without_recognition(http):
    item = guide("个体工商户设立登记")
    user = WeChatUser(http)
    xml = message_xml(user.openid, "voice", MediaId="media-1", Format="amr", Recognition="开个体户要跑几次", MsgId=user.next_msg_id())
    content = user.reply_of(user.post_xml(xml))["Content"]
    assert item.name in content and str(item.get("到办事现场次数")) in content
    xml = message_xml(user.openid, "voice", MediaId="media-2", Format="amr", MsgId=user.next_msg_id())
    assert user.reply_of(user.post_xml(xml))["Content"] == wechat.VOICE_NOT_RECOGNISED


def test_wechat_subscribe_menu_click_and_other_types(http):
    user = WeChatUser(http)
    welcome = user.reply_of(user.event("subscribe"))["Content"]
    assert "12345" in welcome and "材料" in welcome
    human = user.reply_of(user.event("CLICK", EventKey="HUMAN"))["Content"]
    assert "12345" in human and "人工" in human
    booking = user.reply_of(user.event("CLICK", EventKey="BOOK"))["Content"]
    assert "预约" in booking
    image = message_xml(user.openid, "image", PicUrl="http://example.org/a.jpg", MediaId="m", MsgId=user.next_msg_id())
    assert user.reply_of(user.post_xml(image))["Content"] == wechat.PLEASE_TEXT
    assert user.reply_of(user.event("unsubscribe")) is None


def test_wechat_retry_of_the_same_msgid_is_processed_once(http, slow):
    user = WeChatUser(http)
    first = user.say("护照怎么办理", msg_id=880001)
    assert "普通护照签发" in first
    assert user.say("护照怎么办理", msg_id=880001) == first
    assert slow.webhook_calls.count("护照怎么办理") == 1


def test_wechat_retry_while_the_first_attempt_is_in_flight(http, slow):
    slow.delay = 1.5
    user = WeChatUser(http)
    results = []
    threads = [threading.Thread(target=lambda: results.append(user.say("居住证怎么办", msg_id=880002))) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.5)
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0] == results[1] and "居住证办理" in results[0]
    assert slow.webhook_calls.count("居住证怎么办") == 1


def test_wechat_five_second_rule_sends_the_answer_later_through_the_customer_service_api(http, slow, live):
    slow.delay = 6.0
    item = guide("社会保障卡申领")
    user = WeChatUser(http)
    started = time.monotonic()
    first = user.send("社保卡怎么申领", msg_id=880003)
    assert first.text == "success" and time.monotonic() - started < 5.0  # within WeChat's 5 seconds
    assert user.send("社保卡怎么申领", msg_id=880003).text == "success"  # WeChat's retry
    sent = live.wechat_api.wait_for(user.openid, timeout=20)
    assert len(sent) == 1 and item.name in sent[0] and "回复1：" in sent[0]
    assert live.wechat_api.token_fetches >= 1
    assert slow.webhook_calls.count("社保卡怎么申领") == 1


def test_wechat_forged_signatures_and_xml_bombs_are_refused(http, slow):
    forger = WeChatUser(http, token="not-our-token")
    assert forger.send("你好").status_code == 403
    bomb = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
            '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">]>'
            '<xml><ToUserName>gh</ToUserName><FromUserName>oBomb</FromUserName><CreateTime>1</CreateTime>'
            '<MsgType>text</MsgType><Content>&f;</Content><MsgId>1</MsgId></xml>')
    calls = len(slow.webhook_calls)
    user = WeChatUser(http)
    assert user.post_xml(bomb).status_code == 400  # inside the encrypted envelope
    assert WeChatUser(http, encrypt=False).post_xml(bomb).status_code == 400  # and in plain text
    xxe = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>'
    assert user.post_xml(xxe).status_code == 400
    assert len(slow.webhook_calls) == calls
    assert "居民身份证" in user.say("身份证丢了怎么办")


# --- phone calls -----------------------------------------------------------------------------------

def action_of(root: ET.Element) -> str:
    return next(root.iter("Gather")).get("action")


def redirect_of(root: ET.Element) -> str:
    return root.find("Redirect").text


def assert_transfer(root: ET.Element) -> None:
    assert [c.tag for c in root] == ["Say", "Dial"]
    assert root.find("Dial/Number").text == OPERATOR
    assert urlparse(root.find("Dial").get("action")).path == "/channels/voice/dialled"


def test_a_full_call(http):
    id_card = guide("居民身份证办理（包括临时）")
    caller = Caller(http, PUBLIC)
    greeting = caller.twiml("/channels/voice")
    gather = next(greeting.iter("Gather"))
    assert gather.get("input") == "speech dtmf" and gather.get("language") == "cmn-Hans-CN"
    assert id_card.name.replace("（", " ").replace("）", " ").strip() in gather.get("hints").split(",")
    assert next(gather.iter("Say")).get("voice") == "Polly.Zhiyu" and "请直接说出您想办的事情" in said(greeting)

    answer = caller.twiml(action_of(greeting), SpeechResult="身份证丢了要带什么去补办", Confidence="0.92")
    speech = said(answer)
    assert id_card.name in speech and "第一，" in speech and id_card.materials[0].name in speech
    assert "http" not in speech and "办理时限请按2" in speech and "转人工请按0" in speech

    limit = caller.twiml(action_of(answer), Digits="2")
    assert "承诺办结时限" in said(limit) and f"{id_card.get('承诺办结时限')}个工作日" in said(limit)

    reprompt = caller.twiml(redirect_of(limit))  # silence
    assert said(reprompt) == voice.STILL_THERE
    menu = caller.twiml(redirect_of(reprompt))
    assert "查询办事指南请按1" in said(menu) and parse_qs(urlparse(action_of(menu)).query) == {"menu": ["1"]}
    menu_again = caller.twiml(redirect_of(menu))
    assert "查询办事指南请按1" in said(menu_again)
    transfer = caller.twiml(redirect_of(menu_again))
    assert_transfer(transfer)
    assert said(transfer) == voice.SILENT_TRANSFER

    after = caller.twiml(transfer.find("Dial").get("action"), DialCallStatus="no-answer")
    assert [c.tag for c in after] == ["Say", "Hangup"] and "幺二三四五" in said(after)


def test_asking_for_a_person_transfers_the_call(http):
    caller = Caller(http, PUBLIC)
    root = caller.twiml("/channels/voice/gather", SpeechResult="转人工", Confidence="0.9")
    assert_transfer(root)
    assert said(root) == voice.TRANSFERRING


def test_complaining_on_the_phone_starts_the_appeal_intake(http):
    caller = Caller(http, PUBLIC)
    root = caller.twiml("/channels/voice/gather", SpeechResult="我要投诉", Confidence="0.9")
    assert root.find("Dial") is None  # the appeal is taken in the call, read back and filed as a work order
    assert "投诉工单" in said(root) and "发生了什么事" in said(root)


def test_key_0_transfers(http):
    assert_transfer(Caller(http, PUBLIC).twiml("/channels/voice/gather", Digits="0"))


def test_low_confidence_confirms_the_item_then_answers(http):
    item = guide("社会保障卡补领、换领、换发")
    caller = Caller(http, PUBLIC)
    confirm = caller.twiml("/channels/voice/gather", SpeechResult="社保卡丢了要补办", Confidence="0.35")
    assert f"您是问{item.name}吗" in said(confirm)
    answer = caller.twiml(action_of(confirm), Digits="1")
    assert item.name in said(answer)


def test_a_slow_assistant_gets_an_apology_and_a_transfer_within_15_seconds(http, slow):
    slow.delay = 8.0
    started = time.monotonic()
    root = Caller(http, PUBLIC).twiml("/channels/voice/gather", SpeechResult="居住证怎么办", Confidence="0.9")
    assert time.monotonic() - started < 15
    assert_transfer(root)
    assert said(root) == voice.SLOW


def test_forged_twilio_signatures_are_refused(http):
    caller = Caller(http, PUBLIC)
    assert caller.post("/channels/voice", signature="forged").status_code == 403
    assert Caller(http, PUBLIC, token="another-account").post("/channels/voice").status_code == 403
    assert Caller(http, "http://127.0.0.1").post("/channels/voice").status_code == 403  # signed for the wrong URL
