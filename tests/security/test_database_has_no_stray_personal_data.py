"""After a citizen has given their mobile and ID numbers in every place they could (chat messages, a handoff, a
rating comment, a work order, an appeal), the database holds them unmasked only in the fields meant to hold them
(the transcript, which operators reveal with an audited reason; a booking's or work order's contact; what the
citizen wrote in an order or a comment). Every other text column of every table (turn outcomes for the insight
inbox, the audit log, handoff records, settings, accounts, knowledge versions) is scanned and must hold none."""
from sqlalchemy import String, Text, select

from bot.appeals.service import Intake
from bot.db import Base, import_models
from tests.handoff.conftest import (  # noqa: F401  (fixtures)
    Citizen,
    admin_and_operator,
    app_client,
    fake_rasa,
)
from tests.security.test_logs_have_no_personal_data import ID_NUMBER, MOBILE

PHONE, ID = "13812345678", "511126199001011234"
MEANT_TO_HOLD = {  # table -> columns that hold what the citizen gave, by design
    "messages": {"text", "buttons"},
    "bookings": {"name", "phone", "id_number"},
    "reminders": {"target", "text"},
    "work_orders": {"description", "contact_name", "contact_phone", "wish", "place", "village", "reply"},
    "ratings": {"comment"},
    "push_outbox": set(),
    "conversations": {"sender"},  # a caller's number is the phone channel's sender
}


def test_personal_data_is_only_where_it_is_meant_to_be(app_client):  # noqa: F811
    admin, operator = admin_and_operator(app_client)
    citizen = Citizen(app_client)
    citizen.say(f"我叫王小明，电话{PHONE}，身份证{ID}，低保要什么材料")
    citizen.say("转人工")
    assert operator.post(f"/console/api/conversations/{citizen.id}/take").status_code == 200
    citizen.say(f"我的身份证是{ID}，手机{PHONE}，麻烦帮我查一下")
    assert operator.post(f"/console/api/conversations/{citizen.id}/reveal", {"reason": f"核实回电号码{PHONE}"}).status_code == 200
    assert operator.post(f"/console/api/conversations/{citizen.id}/close", {"category": "办事咨询",
                                                                           "summary": "群众咨询低保材料"}).status_code == 200
    citizen.say("不满意")
    citizen.say(f"回电话给我嘛，{PHONE}")
    office = app_client.app.state.services.appeals
    office.file(Intake(what=f"小区路灯坏了半个月，我电话{PHONE}", place="漹城街道", contact_phone=PHONE), "webchat", citizen.id)

    import_models()
    found = []
    with app_client.app.state.database.session() as session:
        for table in Base.metadata.sorted_tables:
            allowed = MEANT_TO_HOLD.get(table.name, set())
            for column in table.columns:
                if column.name in allowed or not isinstance(column.type, (String, Text)) and column.type.__class__.__name__ != "JSON":
                    continue
                for value in session.execute(select(column).where(column.is_not(None))).scalars():
                    text = value if isinstance(value, str) else str(value)
                    if MOBILE.search(text) or ID_NUMBER.search(text):
                        found.append(f"{table.name}.{column.name}: {text[:120]}")
        seen_in_transcript = session.execute(select(Base.metadata.tables["messages"].c.text)).scalars().all()
    assert any(PHONE in text for text in seen_in_transcript)  # the scan looks where the numbers really went
    assert found == []
