"""The Twilio voice channel with Rasa replaced by httpx.MockTransport: TwiML parsed and checked element by element."""
import asyncio
import json
import logging
import time
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from bot.app import create_app
from bot.rasa_client import RasaClient
from bot.settings import Settings
from channels import voice
from tests.channel_helpers import OPERATOR, TWILIO_TOKEN, Caller, said

PUBLIC = "https://12345.jiajiang.example.gov.cn"  # what Twilio calls; the app sits behind a proxy
ASPECTS = [{"title": "办理流程", "payload": "/ask_procedure"}, {"title": "收费", "payload": "/ask_fee"}]
ID_CARD = ("【居民身份证办理（包括临时）】夹江县公安局\n需要准备以下材料：\n1. 居民户口簿（原件1份）\n2. 近期免冠照片（原件1份）\n"
           "办理时间：工作日9:00-12:00，13:30-17:00\n咨询电话：0833-5123456\n网上办理：https://www.sczwfw.gov.cn/\n信息核对日期：2026-11-01。")


class Assistant:
    def __init__(self, answer=None, delay: float = 0.0, down: bool = False):
        self.received: list[str] = []
        self.delay, self.down = delay, down
        self.answer = answer or (lambda text: [{"text": ID_CARD, "buttons": ASPECTS}])

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/status":
            return httpx.Response(200, json={"model_file": "current.tar.gz"})
        if self.down:
            raise httpx.ConnectError("connection refused")
        text = json.loads(request.content)["message"]
        self.received.append(text)
        if self.delay:
            await asyncio.sleep(self.delay)
        return httpx.Response(200, json=self.answer(text))


def client_for(tmp_path, assistant, **overrides) -> TestClient:
    values = dict(database_url=f"sqlite:///{tmp_path / 'app.db'}", public_url=PUBLIC, voice_enabled=True,
                  twilio_auth_token=TWILIO_TOKEN, voice_operator_number=OPERATOR)
    values.update(overrides)
    rasa = RasaClient("http://rasa.test", transport=httpx.MockTransport(assistant))
    return TestClient(create_app(Settings(**values), rasa=rasa))


def only(root, tag):
    found = list(root.iter(tag))
    assert len(found) == 1, f"expected one <{tag}>, got {len(found)}"
    return found[0]


def path_and_query(url: str) -> tuple[str, dict]:
    parsed = urlparse(url)
    assert url.startswith(PUBLIC), url
    return parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()}


def check_gather(root) -> dict:
    """A listening step: <Gather> with its <Say>, followed by a <Redirect> to the silence handler."""
    gather = only(root, "Gather")
    assert gather.get("input") == "speech dtmf" and gather.get("language") == "cmn-Hans-CN"
    assert gather.get("method") == "POST" and gather.get("numDigits") == "1" and gather.get("speechTimeout") == "auto"
    say = only(gather, "Say")
    assert say.get("voice") == "Polly.Zhiyu" and say.get("language") == "cmn-CN"
    children = list(root)
    assert [c.tag for c in children] == ["Gather", "Redirect"]
    assert path_and_query(children[1].text)[0] == "/channels/voice/silence"
    return gather.attrib


def check_transfer(root, number=OPERATOR) -> str:
    assert [c.tag for c in root] == ["Say", "Dial"]
    dial = only(root, "Dial")
    assert only(dial, "Number").text == number
    assert path_and_query(dial.get("action"))[0] == "/channels/voice/dialled"
    return said(root)


def test_a_call_is_greeted_in_mandarin_with_a_gather_and_item_hints(tmp_path):
    with client_for(tmp_path, Assistant()) as client:
        root = Caller(client, PUBLIC).twiml("/channels/voice")
        attrs = check_gather(root)
        assert path_and_query(attrs["action"]) == ("/channels/voice/gather", {})
        hints = attrs["hints"].split(",")
        assert "居民身份证办理 包括临时" in hints and "社会保障卡申领" in hints and len(hints) <= voice.MAX_HINTS
        assert "夹江县幺二三四五政务服务便民热线" in said(root) and "转人工请按0" in said(root)
        assert path_and_query(root.find("Redirect").text)[1] == {"n": "1"}


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl"])
def test_unsigned_or_forged_requests_get_403_and_are_logged_without_the_body(tmp_path, caplog, signature):
    assistant = Assistant()
    with client_for(tmp_path, assistant) as client:
        caller = Caller(client, PUBLIC)
        with caplog.at_level(logging.INFO, logger="channels"):
            response = caller.post("/channels/voice/gather", signature=signature, SpeechResult="我的身份证号511126199001011234")
        assert response.status_code == 403
        assert "invalid X-Twilio-Signature" in caplog.text and "511126" not in caplog.text and caller.number not in caplog.text
    assert assistant.received == []


def test_the_signature_must_be_for_the_public_url(tmp_path):
    with client_for(tmp_path, Assistant()) as client:
        wrong_base = Caller(client, "http://testserver")  # signed for the address the app sees, not the public one
        assert wrong_base.post("/channels/voice").status_code == 403
        wrong_token = Caller(client, PUBLIC, token="another-account")
        assert wrong_token.post("/channels/voice").status_code == 403
        tampered = Caller(client, PUBLIC)
        signature = voice.RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + "/channels/voice/silence?n=1", tampered.params())
        assert tampered.post(PUBLIC + "/channels/voice/silence?n=4", signature=signature).status_code == 403
    with client_for(tmp_path, Assistant(), public_url="") as client:  # no proxy: the request's own URL
        assert Caller(client, "http://testserver").twiml("/channels/voice").find("Gather") is not None


def test_a_question_is_answered_for_the_ear_and_keys_select_the_options(tmp_path):
    assistant = Assistant()
    with client_for(tmp_path, assistant) as client:
        caller = Caller(client, PUBLIC)
        root = caller.twiml("/channels/voice/gather", SpeechResult="身份证丢了怎么办", Confidence="0.93")
        check_gather(root)
        speech = said(root)
        assert "居民身份证办理（包括临时），夹江县公安局" in speech
        assert "第一，居民户口簿" in speech and "第二，近期免冠照片" in speech
        assert "9点到12点" in speech and "13点30分到17点" in speech and "2026年11月1日" in speech
        assert "零八三三五幺二三四五六" in speech and "http" not in speech and "【" not in speech
        assert "办理流程请按1" in speech and "收费请按2" in speech and "转人工请按0" in speech
        root = caller.twiml("/channels/voice/gather", Digits="2")
        check_gather(root)
        root = caller.twiml("/channels/voice/gather", Digits="7")
        assert voice.NO_SUCH_OPTION in said(root) and "办理流程请按1" in said(root)
    assert assistant.received == ["身份证丢了怎么办", "/ask_fee"]


def test_choices_are_read_once_as_key_options(tmp_path):
    choose = [{"text": "您想办理的是下面哪一项？请点选：\n1. 普通护照签发\n2. 居住证办理\n都不是的话，请拨打12345热线。",
               "buttons": [{"title": "普通护照签发", "payload": '/choose_item{"item_id":"passport"}'},
                           {"title": "居住证办理", "payload": '/choose_item{"item_id":"residence-permit"}'}]}]
    assistant = Assistant(answer=lambda text: choose if text == "办证" else [{"text": "好的"}])
    with client_for(tmp_path, assistant) as client:
        caller = Caller(client, PUBLIC)
        speech = said(caller.twiml("/channels/voice/gather", SpeechResult="办证", Confidence="0.9"))
        assert speech.count("普通护照签发") == 1 and "普通护照签发请按1，居住证办理请按2" in speech and "请点选" not in speech
        caller.twiml("/channels/voice/gather", Digits="2")
    assert assistant.received[-1] == '/choose_item{"item_id":"residence-permit"}'


@pytest.mark.parametrize("form", [{"Digits": "0"}, {"SpeechResult": "转人工", "Confidence": "0.9"}])
def test_key_0_or_asking_for_a_person_transfers(tmp_path, form):
    with client_for(tmp_path, Assistant(answer=lambda text: [{"text": "好的"}])) as client:
        speech = check_transfer(Caller(client, PUBLIC).twiml("/channels/voice/gather", **form))
        assert speech == voice.TRANSFERRING


def test_a_handoff_reply_transfers_without_reading_the_web_wording(tmp_path):
    handoff = [{"text": "在线人工客服还在建设中，暂时不能在这里为您转接。请拨打12345热线。"}, {"custom": {"action": "handoff"}}]
    with client_for(tmp_path, Assistant(answer=lambda text: handoff)) as client:
        speech = check_transfer(Caller(client, PUBLIC).twiml("/channels/voice/gather", SpeechResult="我要投诉", Confidence="0.9"))
        assert speech == voice.TRANSFERRING


def test_transfer_can_enqueue_instead(tmp_path):
    with client_for(tmp_path, Assistant(), voice_operator_number="", voice_queue="12345-operators") as client:
        root = Caller(client, PUBLIC).twiml("/channels/voice/gather", Digits="0")
        assert [c.tag for c in root] == ["Say", "Enqueue"]
        assert root.find("Enqueue").text == "12345-operators"


@pytest.mark.parametrize("assistant", [Assistant(delay=6.0), Assistant(down=True)], ids=["slow", "down"])
def test_a_slow_or_failing_assistant_gets_an_apology_and_a_transfer_in_time(tmp_path, assistant):
    with client_for(tmp_path, assistant, voice_assistant_timeout=0.5) as client:
        started = time.monotonic()
        root = Caller(client, PUBLIC).twiml("/channels/voice/gather", SpeechResult="社保卡怎么办", Confidence="0.9")
        # answered long before the assistant would have (6 s) and Twilio gives up (15 s); the margin over the 0.5 s
        # timeout is for a loaded CI machine (2.07 s once in the whole suite on 2 cores)
        assert time.monotonic() - started < 4.0
        assert check_transfer(root) == voice.SLOW


def test_low_confidence_confirms_the_item_first(tmp_path):
    assistant = Assistant()
    with client_for(tmp_path, assistant) as client:
        caller = Caller(client, PUBLIC)
        root = caller.twiml("/channels/voice/gather", SpeechResult="社保卡丢了要补办", Confidence="0.31")
        attrs = check_gather(root)
        path, query = path_and_query(attrs["action"])
        assert path == "/channels/voice/confirm" and query == {"q": "社保卡丢了要补办"}
        assert "您是问社会保障卡补领、换领、换发吗" in said(root)
        assert assistant.received == []
        again = caller.twiml(attrs["action"], Digits="2")
        assert said(again) == voice.AGAIN
        root = caller.twiml(attrs["action"], SpeechResult="是的", Confidence="0.6")
        assert "第一，居民户口簿" in said(root)
    assert assistant.received == ["社保卡丢了要补办"]


def test_silence_reprompts_then_offers_the_menu_twice_then_transfers(tmp_path):
    assistant = Assistant()
    with client_for(tmp_path, assistant) as client:
        caller = Caller(client, PUBLIC)
        url = caller.twiml("/channels/voice").find("Redirect").text
        root = caller.twiml(url)
        assert said(root) == voice.STILL_THERE
        url = root.find("Redirect").text
        assert path_and_query(url)[1] == {"n": "2"}
        for n in (2, 3):
            root = caller.twiml(url)
            attrs = check_gather(root)
            assert path_and_query(attrs["action"]) == ("/channels/voice/gather", {"menu": "1"})
            assert "查询办事指南请按1" in said(root) and "预约办理请按2" in said(root) and "转人工请按0" in said(root)
            url = root.find("Redirect").text
            assert path_and_query(url)[1] == {"n": str(n + 1)}
        assert check_transfer(caller.twiml(url)) == voice.SILENT_TRANSFER
        menu_action = attrs["action"]
        assert said(caller.twiml(menu_action, Digits="1")) == voice.ASK_ITEM
        caller.twiml(menu_action, Digits="2")
    assert assistant.received == ["/book_appointment"]


@pytest.mark.parametrize("form, words", [({"DialCallStatus": "no-answer"}, "都在忙"), ({"DialCallStatus": "completed"}, "再见"),
                                         ({"QueueResult": "queue-full"}, "都在忙")])
def test_after_the_transfer(tmp_path, form, words):
    with client_for(tmp_path, Assistant()) as client:
        root = Caller(client, PUBLIC).twiml("/channels/voice/dialled", **form)
        assert [c.tag for c in root] == ["Say", "Hangup"] and words in said(root)


def test_the_callers_number_is_masked_in_logs_and_not_stored(tmp_path, caplog):
    with client_for(tmp_path, Assistant()) as client:
        caller = Caller(client, PUBLIC, number="+8613912345678")
        with caplog.at_level(logging.INFO):
            caller.twiml("/channels/voice")
            caller.twiml("/channels/voice/gather", SpeechResult="身份证", Confidence="0.9")
        app_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
        assert "+86*******5678" in app_log and "13912345678" not in app_log
        with client.app.state.database.engine.connect() as connection:
            senders = [row[0] for row in connection.exec_driver_sql("select sender from conversations")]
        assert senders == [caller.call_sid]


@pytest.mark.parametrize("text, expected", [
    ("1. 甲\n2. 乙\n11. 丙", "第一，甲。第二，乙。第十一，丙。"),
    ("办理时间：9:00-12:00", "办理时间：9点到12点。"),
    ("请拨打12345热线", "请拨打幺二三四五热线。"),
    ("网上办理：https://www.sczwfw.gov.cn/", "网上办理。网址可以在四川政务服务网查到。"),
    ("收费标准：10元/本", "收费标准：10元每本。"),
])
def test_spoken(text, expected):
    assert voice.spoken(text) == expected


def test_spoken_cuts_long_answers_at_a_sentence():
    text = voice.spoken("很长的一句话。" * 100, max_chars=50)
    assert len(text) < 80 and text.endswith("内容比较多，我先说到这里。")


def test_missing_settings_are_named_only_when_voice_is_enabled():
    Settings(voice_enabled=False)
    with pytest.raises(ValidationError) as error:
        Settings(voice_enabled=True)
    assert "TWILIO_AUTH_TOKEN" in str(error.value) and "VOICE_OPERATOR_NUMBER" in str(error.value)


def test_slot_options_are_said_the_way_people_say_them_and_at_most_four():
    from bot.messages import Button
    from channels.voice import options_prompt

    slots = [Button(title=f"12月5日（周六）{span}（“5+X”延时服务）（余3）", payload=f"2026-12-05 {span[:5]}")
             for span in ["09:00-09:30", "09:30-10:00", "10:00-10:30", "10:30-11:00", "11:00-11:30", "11:30-12:00"]]
    prompt = options_prompt(slots)
    assert prompt.startswith("12月5日周六，上午九点到九点半请按1，上午九点半到十点请按2，")
    assert prompt.count("12月5日") == 1 and "请按4" in prompt and "请按5" not in prompt
    assert not any(mark in prompt for mark in "（）“”余")
    evening = options_prompt([Button(title="12月8日（周二）18:30-19:00（余1）", payload="a"),
                              Button(title="12月9日（周三）12:00-12:30（余2）", payload="b")])
    assert "周二晚上六点半到七点请按1" in evening and "周三中午十二点到十二点半请按2" in evening
