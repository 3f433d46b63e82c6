"""The dialogue evaluation starts each conversation on an empty calendar (bot/eval_dialogue.py): a booking made by one
conversation must not fill the slot, or block the mobile, of the next."""
import datetime as dt

from sqlalchemy import func, select

from bot.booking.models import Booking, Reminder, SlotCounter
from bot.db import Database
from bot.eval_dialogue import empty_calendar


def test_the_calendar_is_emptied_between_conversations(tmp_path):
    url = f"sqlite:///{tmp_path}/eval.db"
    database = Database(url)
    database.migrate()
    day = dt.date(2026, 12, 12)
    with database.sessions.begin() as session:
        session.add(SlotCounter(group_id="police", day=day, start="09:30", capacity=1, taken=1))
        session.add(Booking(code="KLSXAD", item_name="异地就医备案", group_id="police", day=day, start="09:30", end="10:00",
                            name="张勇", phone="18628193746"))
        session.add(Reminder(booking_code="KLSXAD", channel="sms", target="18628193746", text="明天办事",
                             next_attempt_at=dt.datetime(2026, 12, 11, 18, tzinfo=dt.timezone.utc)))
    empty_calendar(url)()
    with database.sessions() as session:
        assert [session.scalar(select(func.count()).select_from(m)) for m in (SlotCounter, Booking, Reminder)] == [0, 0, 0]
