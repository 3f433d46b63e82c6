"""Every kind of turn leaves its outcome, with the channel and no personal data beyond the masked question."""
import datetime as dt

from handoff.conftest import ADMIN, ADMIN_PASSWORD, Citizen, Operator
from sqlalchemy import select

from bot.booking import service as booking_service
from bot.booking.calendar import CalendarUnknown
from bot.booking.schedule import DateNotBookable
from bot.clock import utcnow
from bot.insight.models import TurnOutcome


def chat(client, sender: str, text: str):
    return client.post("/api/chat", json={"sender": sender, "text": text})


def rows(client) -> list[TurnOutcome]:
    with client.app.state.database.session() as session:
        return list(session.scalars(select(TurnOutcome).order_by(TurnOutcome.id)))


def last(client) -> TurnOutcome:
    return rows(client)[-1]


def first_free_slot(client, item: str) -> tuple[dt.date, str]:
    schedule, now = client.app.state.schedule, utcnow()
    with client.app.state.database.session() as session:
        for days in range(1, 15):
            day = (now + dt.timedelta(days=days)).date()
            try:
                free = booking_service.free_slots(db_session=session, schedule=schedule, item_name=item, day=day, now=now)
            except (DateNotBookable, CalendarUnknown):
                continue
            if free:
                return day, f"{free[0][0].start:%H:%M}"
    raise AssertionError("no free slot in two weeks")


def test_each_kind_of_turn_records_its_outcome(insight_client, action_rasa):
    client = insight_client
    assert chat(client, "a", "身份证丢了要带什么材料").status_code == 200
    answered = last(client)
    assert (answered.outcome, answered.item_name, answered.aspect, answered.channel) == (
        "answered", "居民身份证办理（包括临时）", "materials", "web")
    assert answered.confidence is not None and answered.confidence >= 0.5

    chat(client, "a", "不对")  # disputes the answer before
    assert rows(client)[-2].followed_by == "dispute"

    chat(client, "b", "办证")
    offered = last(client)
    assert offered.outcome == "options" and len(offered.options) >= 2

    chat(client, "c", "我想在月球上开个火锅店咋个弄")
    assert last(client).outcome == "not_found"

    chat(client, "c", "转人工")  # nobody on duty: offered a message or a callback
    handed = last(client)
    assert handed.outcome == "handed_over"
    assert rows(client)[-2].followed_by == "person"  # the question not found was followed by a request for a person

    chat(client, "d", "你好")
    assert last(client).outcome == "other"

    chat(client, "d", "城南菜市场几点关门")  # declined as outside government services: not answered, for review
    assert last(client).outcome == "not_found"

    day, start = first_free_slot(client, "出生登记")
    action_rasa.booking_slots = {"booking_item": "出生登记", "booking_date": day.isoformat(), "booking_time": start,
                                 "booking_name": "张三", "booking_phone": "13812345678", "booking_request_id": "r1"}
    chat(client, "e", "确认预约")
    assert last(client).outcome == "booked"

    assert chat(client, "f", "长" * 600).status_code == 200
    assert last(client).outcome == "rejected"

    action_rasa.down = True
    chat(client, "g", "社保卡怎么办")
    assert last(client).outcome == "error"
    action_rasa.down = False

    chat(client, "h", "我叫王小明，身份证号511126199001011234，电话13912345678，低保怎么申请")
    stored = last(client).question
    assert "13912345678" not in stored and "511126199001011234" not in stored and "王小明" not in stored


def test_a_message_to_the_operator_is_recorded_as_operator(insight_client):
    client = insight_client
    citizen = Citizen(client)
    citizen.say("转人工")
    assert last(client).outcome == "handed_over" and last(client).channel == "webchat"
    admin = Operator(client, ADMIN, ADMIN_PASSWORD)
    assert admin.post(f"/console/api/conversations/{citizen.id}/take").status_code == 200
    citizen.say("我的低保申请到哪一步了")
    assert last(client).outcome == "operator"
