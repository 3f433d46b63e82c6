"""The WeChat official-account channel with Rasa replaced by httpx.MockTransport and WeChat's API by a local fake."""
import logging
import threading
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.app import create_app
from bot.delivery import ChannelUnavailable
from bot.messages import Button, Reply
from bot.settings import Settings
from channels import wechat
from tests.channel_helpers import (
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    FakeWeChatAPI,
    WeChatUser,
    message_xml,
)
from tests.fakes import FakeRasa

PUBLIC = "https://12345.jiajiang.example.gov.cn"
ASPECTS = [{"title": "办理流程", "payload": "/ask_procedure"}, {"title": "收费", "payload": "/ask_fee"}]


@pytest.fixture(scope="module")
def fake_api():
    api = FakeWeChatAPI()
    yield api
    api.close()


def assistant_rasa(answer=None, delay: float = 0.0) -> FakeRasa:
    """Rasa answering "收到：…" with the aspects as buttons (or with `answer(text)`), after `delay` seconds."""
    return FakeRasa(answer or (lambda text: [{"text": f"收到：{text}", "buttons": ASPECTS}]), delay)


def app_log(caplog) -> str:
    """What the app logged (not the test's own HTTP client)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))


def client_for(tmp_path, assistant, fake_api, **overrides) -> TestClient:
    values = dict(
        database_url=f"sqlite:///{tmp_path / 'app.db'}", public_url=PUBLIC, wechat_enabled=True, wechat_token=WECHAT_TOKEN,
        wechat_app_id=WECHAT_APP_ID, wechat_app_secret=WECHAT_APP_SECRET, wechat_encoding_aes_key=WECHAT_AES_KEY,
        wechat_mode="safe", wechat_api_base=fake_api.base,
    )
    values.update(overrides)
    return TestClient(create_app(Settings(**values), rasa=assistant.client()))


def test_get_echoes_echostr_only_with_the_right_signature(tmp_path, fake_api):
    with client_for(tmp_path, assistant_rasa(), fake_api) as client:
        user = WeChatUser(client)
        query = user.signed_query("1700000000", "nonce123")
        ok = client.get("/channels/wechat", params={**query, "echostr": "echo-42"})
        assert ok.status_code == 200 and ok.text == "echo-42"
        forged = client.get("/channels/wechat", params={**query, "signature": "0" * 40, "echostr": "echo-42"})
        assert forged.status_code == 403 and "echo-42" not in forged.text


@pytest.mark.parametrize("mode, encrypt", [("plaintext", False), ("compatible", False), ("compatible", True), ("safe", True)])
def test_text_is_answered_passively_with_numbered_options(tmp_path, fake_api, mode, encrypt):
    assistant = assistant_rasa()
    with client_for(tmp_path, assistant, fake_api, wechat_mode=mode) as client:
        user = WeChatUser(client, encrypt=encrypt)
        content = user.say("身份证丢了怎么办")
        assert content.startswith("收到：身份证丢了怎么办")
        assert "回复1：办理流程" in content and "回复2：收费" in content
        assert user.say("２").startswith("收到：/ask_fee")  # full-width digits too
        assert assistant.calls == ["身份证丢了怎么办", "/ask_fee"]
        assert user.say("3").startswith("收到：3")  # not an option: sent as text


def test_safe_mode_refuses_plaintext_and_a_wrong_message_signature(tmp_path, fake_api, caplog):
    with client_for(tmp_path, assistant_rasa(), fake_api) as client:
        plain = WeChatUser(client, encrypt=False)
        assert plain.send("你好").status_code == 400
        user = WeChatUser(client)
        timestamp, nonce = str(int(time.time())), "n1"
        envelope = user.crypto.encrypt_message(message_xml(user.openid, "text", Content="我的电话13812345678", MsgId=1), nonce, timestamp)
        query = {**user.signed_query(timestamp, nonce), "encrypt_type": "aes", "msg_signature": "f" * 40}
        with caplog.at_level(logging.INFO):
            response = client.post("/channels/wechat", params=query, content=envelope)
        assert response.status_code == 403
        logged = app_log(caplog)
        assert "forged" in logged and "13812345678" not in logged and "Encrypt" not in logged


def test_forged_signature_gets_403_and_the_body_is_not_logged(tmp_path, fake_api, caplog):
    assistant = assistant_rasa()
    with client_for(tmp_path, assistant, fake_api, wechat_mode="plaintext") as client:
        forger = WeChatUser(client, encrypt=False, token="not-the-token")
        with caplog.at_level(logging.DEBUG):
            response = forger.send("我的身份证号是511126199001011234")
        assert response.status_code == 403
        logged = app_log(caplog)
        assert "forged" in logged and "511126" not in logged and forger.openid not in logged
        unsigned = client.post("/channels/wechat", content=message_xml("oX", "text", Content="hi", MsgId=5))
        assert unsigned.status_code == 403
    assert assistant.calls == []


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;"><!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oBomb</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>
<Content>&i;</Content><MsgId>7</MsgId></xml>"""
XXE = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&x;</Content><MsgId>8</MsgId></xml>"""
PARAMETER_ENTITY = """<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]><xml/>"""
UNDECLARED = "<xml><ToUserName>gh</ToUserName><FromUserName>oX</FromUserName><MsgType>text</MsgType><Content>&x;</Content></xml>"
DEEP = "<xml>" + "<a>" * 5000 + "</a>" * 5000 + "</xml>"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, PARAMETER_ENTITY, UNDECLARED, DEEP, "<xml><unclosed></xml>", "not xml"])
@pytest.mark.parametrize("encrypt", [False, True])
def test_xml_bombs_and_entities_are_refused(tmp_path, fake_api, body, encrypt):
    assistant = assistant_rasa()
    with client_for(tmp_path, assistant, fake_api, wechat_mode="compatible") as client:
        user = WeChatUser(client, encrypt=encrypt)
        assert user.say("你好").startswith("收到")  # the app's first request (lazy set-up) is not timed with the bomb
        started = time.monotonic()
        response = user.post_xml(body)
        assert response.status_code == 400 and time.monotonic() - started < 2  # refused before any expansion
        assert user.say("你好").startswith("收到")  # still serving
    assert assistant.calls == ["你好", "你好"]


def test_check_xml_accepts_wechat_messages_and_predefined_entities():
    xml = message_xml("oX", "text", Content="a&b", MsgId=1).replace("<![CDATA[a&b]]>", "a&amp;b")
    assert wechat.check_xml(xml.encode()) == xml
    with pytest.raises(wechat.UnsafeXML):
        wechat.check_xml(b"<xml>" + b"x" * (wechat.MAX_BODY_BYTES + 1) + b"</xml>")


def test_oversized_body_gets_413(tmp_path, fake_api):
    with client_for(tmp_path, assistant_rasa(), fake_api, wechat_mode="plaintext") as client:
        user = WeChatUser(client, encrypt=False)
        assert user.send("长" * 30000).status_code == 413


def test_voice_with_and_without_recognition_and_other_types(tmp_path, fake_api):
    assistant = assistant_rasa()
    with client_for(tmp_path, assistant, fake_api) as client:
        user = WeChatUser(client)
        heard = user.reply_of(user.post_xml(message_xml(user.openid, "voice", MediaId="m1", Format="amr", Recognition="社保卡怎么办", MsgId=user.next_msg_id())))
        assert heard["Content"].startswith("收到：社保卡怎么办")
        unheard = user.reply_of(user.post_xml(message_xml(user.openid, "voice", MediaId="m2", Format="amr", MsgId=user.next_msg_id())))
        assert unheard["Content"] == wechat.VOICE_NOT_RECOGNISED
        for kind, fields in [("image", {"PicUrl": "http://x/p.jpg", "MediaId": "m3"}), ("location", {"Location_X": 29, "Location_Y": 103, "Label": "夹江"}),
                             ("video", {"MediaId": "m4", "ThumbMediaId": "t"})]:
            reply = user.reply_of(user.post_xml(message_xml(user.openid, kind, MsgId=user.next_msg_id(), **fields)))
            assert reply["Content"] == wechat.PLEASE_TEXT
    assert assistant.calls == ["社保卡怎么办"]


def test_subscribe_welcomes_and_menu_clicks_follow_the_configured_keys(tmp_path, fake_api):
    assistant = assistant_rasa(answer=lambda text: [{"text": f"答：{text}"}])
    menu = {"GUIDE": "/greet", "BOOK": "/book_appointment", "HUMAN": "/request_human"}
    with client_for(tmp_path, assistant, fake_api, wechat_menu=menu) as client:
        user = WeChatUser(client)
        assert user.reply_of(user.event("subscribe"))["Content"] == "答：/greet"
        assert user.reply_of(user.event("CLICK", EventKey="HUMAN"))["Content"] == "答：/request_human"
        assert user.reply_of(user.event("CLICK", EventKey="NO_SUCH_KEY"))["Content"] == wechat.UNKNOWN_MENU
        assert user.reply_of(user.event("VIEW", EventKey="https://example.org/")) is None
        assert user.reply_of(user.event("unsubscribe")) is None
        assert user.reply_of(user.event("some_future_event", EventKey="x")) is None
        future_type = message_xml(user.openid, "miniprogrampage", Title="t", MsgId=user.next_msg_id())
        assert user.reply_of(user.post_xml(future_type))["Content"] == wechat.PLEASE_TEXT
    assert assistant.calls == ["/greet", "/request_human"]


def test_event_retry_with_the_same_user_and_create_time_is_processed_once(tmp_path, fake_api):
    assistant = assistant_rasa(answer=lambda text: [{"text": f"答：{text}"}])
    with client_for(tmp_path, assistant, fake_api) as client:
        user = WeChatUser(client)
        first = user.reply_of(user.event("CLICK", create_time=1700000000, EventKey="BOOK"))
        again = user.reply_of(user.event("CLICK", create_time=1700000000, EventKey="BOOK"))
        later = user.reply_of(user.event("CLICK", create_time=1700000001, EventKey="BOOK"))
        assert first["Content"] == again["Content"] == later["Content"] == "答：/book_appointment"
    assert assistant.calls == ["/book_appointment", "/book_appointment"]


def test_msgid_retry_after_the_answer_gets_the_same_reply_once(tmp_path, fake_api):
    assistant = assistant_rasa()
    with client_for(tmp_path, assistant, fake_api) as client:
        user = WeChatUser(client)
        first = user.say("护照怎么办", msg_id=424242)
        assert user.say("护照怎么办", msg_id=424242) == first
        client.app.state.wechat.pending.clear()  # long after: only the conversation log remembers the MsgId
        assert user.say("护照怎么办", msg_id=424242) == first
    assert assistant.calls == ["护照怎么办"]


def test_retry_while_the_first_attempt_is_in_flight_waits_for_it(tmp_path, fake_api):
    assistant = assistant_rasa(delay=0.6)
    with client_for(tmp_path, assistant, fake_api) as client:
        user = WeChatUser(client)
        results = []

        def attempt():
            results.append(user.say("居住证怎么办", msg_id=777))

        threads = [threading.Thread(target=attempt) for _ in range(3)]
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join()
        assert len(results) == 3 and len(set(results)) == 1 and results[0].startswith("收到：居住证怎么办")
    assert assistant.calls == ["居住证怎么办"]


def test_slow_answer_says_success_then_arrives_once_through_the_customer_service_api(tmp_path, fake_api):
    assistant = assistant_rasa(delay=1.5)
    with client_for(tmp_path, assistant, fake_api, wechat_reply_budget=0.3) as client:
        user = WeChatUser(client)
        started = time.monotonic()
        assert user.send("营业执照怎么办", msg_id=9001).text == "success"
        assert time.monotonic() - started < 1.0
        assert user.send("营业执照怎么办", msg_id=9001).text == "success"  # WeChat's retry
        sent = fake_api.wait_for(user.openid)
        assert len(sent) == 1 and sent[0].startswith("收到：营业执照怎么办") and "回复1：办理流程" in sent[0]
        assert user.send("营业执照怎么办", msg_id=9001).text == "success"  # a late retry does not send it again
        time.sleep(0.3)
        assert len(fake_api.to(user.openid)) == 1
    assert assistant.calls == ["营业执照怎么办"]


def test_access_token_is_cached_and_fetched_again_when_expired(tmp_path, fake_api):
    assistant = assistant_rasa(delay=0.4)
    with client_for(tmp_path, assistant, fake_api, wechat_reply_budget=0.05) as client:
        user = WeChatUser(client)
        before = fake_api.token_fetches
        for n in range(2):
            assert user.send(f"问题{n}").text == "success"
            fake_api.wait_for(user.openid, n + 1)
        assert fake_api.token_fetches == before + 1  # cached
        fake_api.expire_once = True
        assert user.send("问题2").text == "success"
        assert fake_api.wait_for(user.openid, 3)[-1].startswith("收到：问题2")
        assert fake_api.token_fetches == before + 2  # refreshed after 42001, and the message still went out


def test_long_answers_are_split_within_the_limit_first_part_passive(tmp_path, fake_api):
    lines = [f"{n}. 第{n}项材料的很长很长的说明文字，用来把答复撑到超过微信的文本长度上限" for n in range(1, 61)]
    assistant = assistant_rasa(answer=lambda text: [{"text": "\n".join(lines)}])
    with client_for(tmp_path, assistant, fake_api, wechat_text_limit=1024) as client:
        user = WeChatUser(client)
        first = user.say("材料")
        rest = fake_api.wait_for(user.openid, 2)
        parts = [first, *rest]
        assert all(len(p.encode("utf-8")) <= 1024 for p in parts) and len(parts) == wechat.MAX_MESSAGES
        assert parts[0].startswith("1. ") and parts[-1].endswith(wechat.CUT_NOTE)
        assert "".join(parts).count("很长很长") < 60  # cut to the message quota


def test_split_text_keeps_lines_and_cuts_overlong_ones():
    assert wechat.split_text("一\n二\n三", 7) == ["一\n二", "三"]
    chunks = wechat.split_text("长" * 10, 9)
    assert chunks == ["长长长", "长长长", "长长长", "长"]


def test_answers_link_to_the_guide_page_and_choices_are_not_listed_twice(tmp_path, fake_api):
    answers = {
        "身份证": [{"text": "【居民身份证办理（包括临时）】夹江县公安局\n需要准备以下材料：\n1. 居民户口簿（原件1份）\n信息核对日期：2026-11-01。", "buttons": ASPECTS}],
        "办证": [{"text": "您想办理的是下面哪一项？请点选：\n1. 普通护照签发\n2. 居住证办理\n都不是的话，请拨打12345热线。",
                  "buttons": [{"title": "普通护照签发", "payload": '/choose_item{"item_id":"passport"}'},
                              {"title": "居住证办理", "payload": '/choose_item{"item_id":"residence-permit"}'}]}],
    }
    assistant = assistant_rasa(answer=lambda text: answers.get(text) or [{"text": f"收到：{text}"}])
    with client_for(tmp_path, assistant, fake_api) as client:
        user = WeChatUser(client)
        content = user.say("身份证")
        assert f"完整办事指南：{PUBLIC}/guides/id-card" in content and "回复1：办理流程" in content
        content = user.say("办证")
        assert "请回复数字" in content and "请点选" not in content and "回复1：" not in content
        assert content.count("普通护照签发") == 1
        user.say("2")
    assert assistant.calls[-1] == '/choose_item{"item_id":"residence-permit"}'


def test_render_numbers_only_the_last_reply_with_buttons():
    replies = [Reply(text="第一条", buttons=[Button(title="甲", payload="/a")]), Reply(text="第二条", buttons=[Button(title="乙", payload="/b")])]
    [text] = wechat.render(replies, "", 2048)
    assert "回复1：乙" in text and "甲" not in text


def test_reminders_go_through_the_customer_service_api(tmp_path, fake_api):
    assistant = assistant_rasa()
    with client_for(tmp_path, assistant, fake_api) as client:
        user = WeChatUser(client)
        user.say("你好")
        send = client.app.state.services.deliveries.send  # the channel's registered outlet, as reminders use it
        with client.app.state.database.engine.connect() as connection:
            conversation_id = connection.exec_driver_sql("select id from conversations where sender = ?", (user.openid,)).scalar()
        client.portal.call(send, "wechat", conversation_id, Reply(text="提醒：您预约的业务明天上午9:00办理。"))
        assert fake_api.wait_for(user.openid)[-1] == "提醒：您预约的业务明天上午9:00办理。"
        fake_api.errors[user.openid] = 45015
        with pytest.raises(ChannelUnavailable):
            client.portal.call(send, "wechat", conversation_id, Reply(text="再次提醒"))
        with pytest.raises(ChannelUnavailable):
            client.portal.call(send, "wechat", "web-unknown", Reply(text="提醒"))


def test_missing_settings_are_named_only_when_the_channel_is_enabled(monkeypatch):
    Settings(wechat_enabled=False)
    with pytest.raises(ValidationError) as error:
        Settings(wechat_enabled=True, wechat_token=WECHAT_TOKEN, wechat_app_id=WECHAT_APP_ID, wechat_app_secret="x")
    assert "WECHAT_ENCODING_AES_KEY" in str(error.value) and "WECHAT_TOKEN" not in str(error.value)
    Settings(wechat_enabled=True, wechat_token="t", wechat_app_id="a", wechat_app_secret="s", wechat_mode="plaintext")
    with pytest.raises(ValidationError) as error:
        Settings(wechat_enabled=True, wechat_token="t", wechat_app_id="a", wechat_app_secret="s", wechat_encoding_aes_key="short")
    assert "43 characters" in str(error.value)
    assert "app-secret" not in repr(Settings(wechat_app_secret="app-secret"))
