"""Operators reach citizens in their own channel: WeChat customer-service messages both ways; a caller
pressing 0 is transferred and recorded; the CLI creates console accounts."""
import os
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.db import Database
from bot.handoff.models import Handoff
from bot.handoff.models import Operator as OperatorRow
from bot.settings import ROOT
from tests.channel_helpers import (
    OPERATOR,
    TWILIO_TOKEN,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_APP_SECRET,
    WECHAT_TOKEN,
    Caller,
    FakeWeChatAPI,
    WeChatUser,
)
from tests.fakes import ActingRasa
from tests.handoff.conftest import HTTPS, Operator, admin_and_operator, login, make_settings, other_client

PUBLIC = "https://12345.jiajiang.example.gov.cn"


@pytest.fixture(scope="module")
def fake_api():
    api = FakeWeChatAPI()
    yield api
    api.close()


def test_operator_and_wechat_citizen_talk_through_customer_service_messages(tmp_path, fake_api):
    fake = ActingRasa()
    settings = make_settings(tmp_path, public_url=PUBLIC, wechat_enabled=True, wechat_token=WECHAT_TOKEN, wechat_app_id=WECHAT_APP_ID,
                             wechat_app_secret=WECHAT_APP_SECRET, wechat_encoding_aes_key=WECHAT_AES_KEY, wechat_mode="safe",
                             wechat_api_base=fake_api.base)
    app = create_app(settings, rasa=fake.client())
    with TestClient(app, base_url=HTTPS) as client:
        _admin, operator = admin_and_operator(client)
        user = WeChatUser(TestClient(app, base_url=HTTPS))
        assert "当前排在第1位" in user.say("转人工")
        waiting = operator.get("/console/api/queue").json()["waiting"][0]
        assert waiting["channel_label"] == "微信"
        conversation_id = waiting["conversation_id"]
        assert operator.post(f"/console/api/conversations/{conversation_id}/take").status_code == 200
        assert "人工客服（8号坐席）已接入" in fake_api.wait_for(user.openid, 1)[-1]
        assert user.say("我想问下医保怎么转移") is None  # answered by the operator, not the bot: `success`
        transcript = operator.get(f"/console/api/conversations/{conversation_id}/messages").json()["messages"]
        assert transcript[-1]["text"] == "我想问下医保怎么转移"
        sent = operator.post(f"/console/api/conversations/{conversation_id}/messages", {"text": "您好，医保关系转移可以在网上办。"})
        assert sent.json()["delivered"] is True
        assert fake_api.wait_for(user.openid, 2)[-1] == "您好，医保关系转移可以在网上办。"
        operator.post(f"/console/api/conversations/{conversation_id}/close", {"category": "办事咨询"})
        rating = fake_api.wait_for(user.openid, 4)[-1]
        assert "请您对人工客服的服务做个评价" in rating and "1. 非常满意" in rating
        assert "感谢您的评价（满意）" in user.say("2")  # the number picks the second level


def test_a_caller_pressing_0_is_transferred_and_recorded(tmp_path):
    settings = make_settings(tmp_path, public_url=PUBLIC, voice_enabled=True, twilio_auth_token=TWILIO_TOKEN,
                             voice_operator_number=OPERATOR)
    app = create_app(settings, rasa=ActingRasa().client())
    with TestClient(app) as client:
        caller = Caller(client, PUBLIC)
        root = caller.twiml("/channels/voice/gather", Digits="0")
        assert [c.tag for c in root] == ["Say", "Dial"]
        with app.state.database.session() as session:
            handoffs = session.scalars(select(Handoff)).all()
            assert [(h.channel, h.reason, h.status, h.priority) for h in handoffs] == [("voice", "caller", "transferred", 1)]
        assert caller.twiml("/channels/voice/gather", SpeechResult="转人工", Confidence="0.9").find("Dial") is not None


def test_the_cli_adds_console_accounts(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "bot", "console", "add-user", "zhou", "--role", "admin", "--display-name", "周主任",
                           "--password-stdin"], input="Zhou-pass-2026\n", text=True, capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "已创建" in done.stdout and "Zhou-pass-2026" not in done.stdout + done.stderr
    again = subprocess.run([sys.executable, "-m", "bot", "console", "add-user", "zhou", "--password-stdin"], input="Zhou-pass-2026\n",
                           text=True, capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert again.returncode == 1 and "已存在" in again.stderr
    weak = subprocess.run([sys.executable, "-m", "bot", "console", "add-user", "qian", "--password-stdin"], input="123\n",
                          text=True, capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert weak.returncode == 1 and "密码" in weak.stderr
    database = Database(url)
    with database.session() as session:
        row = session.scalar(select(OperatorRow).where(OperatorRow.username == "zhou"))
        assert row.role == "admin" and row.display_name == "周主任" and row.password_hash.startswith("$argon2id$")
    app = create_app(make_settings(tmp_path, database_url=url, console_admin_user="", console_admin_password=""),
                     rasa=ActingRasa().client())
    with TestClient(app, base_url=HTTPS) as client:
        assert login(client, "zhou", "Zhou-pass-2026").status_code == 303
        assert other_client(client).get("/console/admin/users", follow_redirects=False).status_code == 303
        assert Operator(other_client(client), "zhou", "Zhou-pass-2026").get("/console/admin/users").status_code == 200
