"""Personal data (bot/personal_data/): an admin exports or erases a citizen's data on request, audited; operators
cannot; the retention job erases what is older than RETENTION_DAYS and keeps open cases and recent data."""
import datetime as dt

from sqlalchemy import select

from bot.booking.models import Booking
from bot.conversations.models import Conversation, Message
from bot.conversations.service import log_inbound
from bot.db import Database
from bot.handoff.models import AuditEntry, Handoff
from bot.messages import InboundMessage
from bot.personal_data import service
from tests.handoff.conftest import Citizen, admin_and_operator

PHONE = "13812345678"


def test_an_admin_exports_then_erases_a_citizens_data_and_both_are_audited(app_client):
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say(f"我叫李四，电话{PHONE}，想问低保")
    request = {"conversation_id": citizen.id, "reason": "本人来电申请查阅"}

    assert operator.post("/console/api/admin/personal-data/export", request).status_code == 403
    exported = admin.post("/console/api/admin/personal-data/export", request)
    assert exported.status_code == 200, exported.text
    conversation = exported.json()["conversations"][0]
    assert conversation["id"] == citizen.id and any(PHONE in m["text"] for m in conversation["messages"])  # unmasked: for the citizen

    erased = admin.post("/console/api/admin/personal-data/erase", {**request, "reason": "本人申请删除"})
    assert erased.status_code == 200 and erased.json()["conversations"] == 1 and erased.json()["messages"] >= 2
    again = admin.post("/console/api/admin/personal-data/export", request).json()
    assert again["conversations"][0]["messages"] == []

    with app_client.app.state.database.session() as session:
        actions = [(e.action, e.target) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert ("data_export", citizen.id) in actions and ("data_erase", citizen.id) in actions
        assert session.get(Conversation, citizen.id).sender == f"erased-{citizen.id}"


def test_a_request_must_name_the_citizen(app_client):
    admin, _ = admin_and_operator(app_client)
    refused = admin.post("/console/api/admin/personal-data/export", {"reason": "本人申请"})
    assert refused.status_code == 422 and "手机号" in refused.json()["error"]


def _database(tmp_path) -> Database:
    database = Database(f"sqlite:///{tmp_path}/app.db")
    database.migrate()
    return database


def _conversation(session, sender: str, text: str, at: dt.datetime) -> str:
    _, conversation_id, _, _ = log_inbound(db_session=session, message=InboundMessage(channel="wechat", sender=sender, text=text))
    session.execute(Message.__table__.update().where(Message.conversation_id == conversation_id).values(created_at=at))
    return conversation_id


def test_retention_erases_old_data_and_keeps_recent_and_open_cases(tmp_path):
    database = _database(tmp_path)
    now = dt.datetime(2027, 6, 1, 2, 0, tzinfo=dt.timezone.utc)
    old, recent = now - dt.timedelta(days=200), now - dt.timedelta(days=10)
    with database.session() as session:
        expired = _conversation(session, "openid-old", f"我的手机{PHONE}", old)
        kept = _conversation(session, "openid-new", "护照怎么办", recent)
        waiting = _conversation(session, "openid-waiting", "转人工", old)
        session.add(Handoff(conversation_id=waiting, channel="wechat", reason="asked", status="waiting"))
        session.add(Booking(code="OLD00001", item_name="社会保障卡申领", group_id="g", day=(old + dt.timedelta(days=3)).date(),
                            start="09:00", end="09:30", name="张三", phone=PHONE, id_number="511126199001011234"))
        session.add(Booking(code="NEW00001", item_name="社会保障卡申领", group_id="g", day=recent.date(), start="09:00",
                            end="09:30", name="王五", phone="13900000000"))
    with database.session() as session:
        erased = service.erase_expired(db_session=session, now=now, days=180)
    assert (erased.conversations, erased.bookings) == (1, 1) and erased.tracker_senders == [expired]
    with database.session() as session:
        assert session.scalars(select(Message.conversation_id).distinct()).all() and \
            set(session.scalars(select(Message.conversation_id))) == {kept, waiting}
        old_booking, new_booking = (session.scalar(select(Booking).where(Booking.code == code)) for code in ("OLD00001", "NEW00001"))
        assert (old_booking.name, old_booking.phone, old_booking.id_number) == (service.ERASED, "", None)
        assert new_booking.name == "王五"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "retention"))
        assert entry is not None and entry.operator_id is None and "1 个会话" in entry.detail
    with database.session() as session:  # a second pass finds nothing and audits nothing
        assert service.erase_expired(db_session=session, now=now, days=180).conversations == 0
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "retention")).all()) == 1
    database.engine.dispose()


def test_the_admin_page_for_personal_data_requests_is_for_admins_only(app_client):
    admin, operator = admin_and_operator(app_client)
    page = admin.get("/console/admin/personal-data")
    assert page.status_code == 200
    assert 'id="personal-data-form"' in page.text and 'id="pd-erase"' in page.text and "申请依据" in page.text
    assert 'href="/console/admin/personal-data"' in admin.get("/console/admin/audit").text  # in the admins' navigation
    refused = operator.get("/console/admin/personal-data")
    assert refused.status_code == 403 and "只有管理员" in refused.text
