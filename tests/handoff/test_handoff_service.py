"""Handoff services: duty hours with holidays, queue order and wait, take-over races, work orders, ratings, accounts."""
import datetime as dt
import threading

import pytest
from sqlalchemy import select

from bot import errors
from bot.booking.calendar import WorkCalendar
from bot.clock import TZ
from bot.conversations.models import Conversation
from bot.db import Database
from bot.handoff import accounts, audit, duty, queue, ratings, work_orders
from bot.handoff.hours import parse_duty_hours
from bot.handoff.login_throttle import LoginThrottle
from bot.handoff.models import Handoff, Operator, WorkOrder

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # a Wednesday


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'h.db'}")
    database.migrate()
    return database


def conversation(session, sender, channel="webchat"):
    session.add(Conversation(id=f"{channel}-{sender}", channel=channel, sender=sender))
    session.flush()
    return f"{channel}-{sender}"


def operator(session, name="op1", role="operator"):
    return accounts.create_operator(db_session=session, username=name, password="Passw0rd-123", role=role, display_name=f"{name}号坐席")


CONFIG = duty.DutyConfig(hours="08:30-12:00,14:00-18:00", days="workdays", sensitive_words=[])


@pytest.mark.parametrize("when, on_duty", [
    (dt.datetime(2026, 11, 25, 10, 0), True),    # Wednesday morning
    (dt.datetime(2026, 11, 25, 12, 30), False),  # lunch break
    (dt.datetime(2026, 11, 25, 18, 30), False),  # evening
    (dt.datetime(2026, 11, 28, 10, 0), False),   # Saturday
    (dt.datetime(2026, 10, 1, 10, 0), False),    # National Day, a Thursday
    (dt.datetime(2026, 10, 10, 10, 0), True),    # a Saturday that is a make-up working day (调休)
])
def test_duty_hours_follow_the_booking_calendar(when, on_duty):
    assert duty.in_duty_hours(CONFIG, when.replace(tzinfo=TZ), WorkCalendar()) is on_duty


def test_every_day_and_round_the_clock():
    config = duty.DutyConfig(hours="00:00-24:00", days="every_day", sensitive_words=[])
    assert duty.in_duty_hours(config, dt.datetime(2026, 10, 1, 23, 59, tzinfo=TZ), WorkCalendar())
    assert duty.duty_description(config) == "每天 00:00-24:00"


def test_years_without_a_published_calendar_count_monday_to_friday():
    assert duty.in_duty_hours(CONFIG, dt.datetime(2027, 3, 3, 9, 0, tzinfo=TZ), WorkCalendar())
    assert not duty.in_duty_hours(CONFIG, dt.datetime(2027, 3, 6, 9, 0, tzinfo=TZ), WorkCalendar())


@pytest.mark.parametrize("bad", ["8-12", "09:00-08:00", "25:00-26:00", "09:00-12:00,abc"])
def test_bad_duty_hours_are_named(bad):
    with pytest.raises(ValueError, match="值班时间"):
        parse_duty_hours(bad)


def test_settings_refuse_bad_duty_hours_naming_the_variable():
    from bot.settings import Settings

    with pytest.raises(ValueError, match="HANDOFF_DUTY_HOURS"):
        Settings(handoff_duty_hours="nine to five")


def test_queue_serves_urgent_reasons_first_then_first_come(db):
    with db.session() as s:
        a, b, c, d = (conversation(s, x) for x in "abcd")
        queue.enqueue(db_session=s, conversation_id=a, reason="asked", now=NOW)
        queue.enqueue(db_session=s, conversation_id=b, reason="fallback", now=NOW)
        queue.enqueue(db_session=s, conversation_id=c, reason="complaint", now=NOW)
        queue.enqueue(db_session=s, conversation_id=d, reason="sensitive", now=NOW)
        positions = {cid: queue.queue_position(db_session=s, handoff=queue.open_handoff(db_session=s, conversation_id=cid))
                     for cid in (a, b, c, d)}
        assert positions == {d: 1, c: 2, a: 3, b: 4}
        view = queue.queue_view(db_session=s, mask_text=lambda t: t)
        assert [r.conversation_id for r in view["waiting"]] == [d, c, a, b]


def test_asking_again_keeps_the_place_and_a_complaint_raises_priority(db):
    with db.session() as s:
        a, b = conversation(s, "a"), conversation(s, "b")
        first, created = queue.enqueue(db_session=s, conversation_id=a, reason="asked", now=NOW)
        queue.enqueue(db_session=s, conversation_id=b, reason="asked", now=NOW)
        again, created_again = queue.enqueue(db_session=s, conversation_id=b, reason="complaint", now=NOW)
        assert created and not created_again
        assert queue.queue_position(db_session=s, handoff=again) == 1
        assert s.scalar(select(Handoff.id).where(Handoff.conversation_id == b).where(Handoff.status == "waiting")) == again.id


def test_wait_estimate_uses_recent_handling_times_and_operators_online(db):
    with db.session() as s:
        assert queue.wait_minutes(db_session=s, position=3, operators=1, default_minutes=5) == 15
        cid = conversation(s, "done")
        s.add(Handoff(conversation_id=cid, channel="webchat", reason="asked", status="closed", taken_at=NOW,
                      closed_at=NOW + dt.timedelta(minutes=2)))
        s.flush()
        assert queue.wait_minutes(db_session=s, position=3, operators=2, default_minutes=5) == 3


def test_two_operators_cannot_take_the_same_conversation(db):
    with db.session() as s:
        cid = conversation(s, "x")
        one, two = operator(s, "one").id, operator(s, "two").id
        queue.enqueue(db_session=s, conversation_id=cid, reason="asked", now=NOW)
    results = []

    def take(operator_id):
        try:
            with db.session() as s:
                queue.take_over(db_session=s, conversation_id=cid, operator_id=operator_id, now=NOW)
            results.append(("ok", operator_id))
        except errors.Conflict as exc:
            results.append(("conflict", str(exc)))

    threads = [threading.Thread(target=take, args=(o,)) for o in (one, two, one, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0] for r in results) == ["conflict", "conflict", "conflict", "ok"]
    assert all("已由" in r[1] and "不能重复接入" in r[1] for r in results if r[0] == "conflict")
    with db.session() as s:
        handoffs = s.scalars(select(Handoff).where(Handoff.conversation_id == cid)).all()
        assert [h.status for h in handoffs] == ["active"]


def test_an_operator_can_join_a_conversation_that_was_not_queued_but_not_a_phone_call(db):
    with db.session() as s:
        web, call = conversation(s, "w"), conversation(s, "c", channel="voice")
        op = operator(s).id
        assert queue.take_over(db_session=s, conversation_id=web, operator_id=op, now=NOW).reason == "operator"
        with pytest.raises(errors.NotAllowed, match="电话"):
            queue.take_over(db_session=s, conversation_id=call, operator_id=op, now=NOW)


def test_only_the_operator_who_took_it_may_answer_hand_back_or_close(db):
    with db.session() as s:
        cid = conversation(s, "x")
        one, two = operator(s, "one").id, operator(s, "two").id
        queue.enqueue(db_session=s, conversation_id=cid, reason="asked", now=NOW)
        queue.take_over(db_session=s, conversation_id=cid, operator_id=one, now=NOW)
        with pytest.raises(errors.NotAllowed):
            queue.active_handoff_of(db_session=s, conversation_id=cid, operator_id=two)
        with pytest.raises(errors.NotAllowed):
            queue.hand_back(db_session=s, conversation_id=cid, operator_id=two, now=NOW)
        with pytest.raises(errors.NotAllowed):
            queue.closable_handoff(db_session=s, conversation_id=cid, operator_id=two)
        handoff = queue.hand_back(db_session=s, conversation_id=cid, operator_id=one, now=NOW)
        with pytest.raises(errors.InvalidInput, match="分类"):
            queue.close(db_session=s, handoff=handoff, category="随便", summary="", operator_id=one, now=NOW)
        assert queue.close(db_session=s, handoff=handoff, category="办事咨询", summary="已解答", operator_id=one, now=NOW) == "returned"
        assert handoff.status == "closed" and handoff.category == "办事咨询"


def test_work_order_numbers_are_unique_and_dated(db):
    with db.session() as s:
        numbers = {work_orders.create_work_order(db_session=s, category="message", description="x", now=NOW).number for _ in range(300)}
        assert len(numbers) == 300
        assert all(n.startswith("GD261125") and len(n) == 12 for n in numbers)
        with pytest.raises(errors.InvalidInput):
            work_orders.create_work_order(db_session=s, category="nonsense", description="x", now=NOW)


def test_work_order_assign_reply_and_status(db):
    with db.session() as s:
        op = operator(s).id
        order = work_orders.create_work_order(db_session=s, category="callback", description="问社保", contact_phone="13812345678", now=NOW)
        order, changes = work_orders.update_work_order(db_session=s, number=order.number.lower(), assignee_id=op, now=NOW)
        assert order.status == "in_progress" and order.assignee_id == op and changes
        order, _ = work_orders.update_work_order(db_session=s, number=order.number, reply="已电话答复", now=NOW)
        assert order.status == "replied" and order.reply == "已电话答复"
        order, _ = work_orders.update_work_order(db_session=s, number=order.number, status="closed", now=NOW)
        assert order.status == "closed"
        mine = work_orders.list_work_orders(db_session=s, filters=work_orders.WorkOrderFilter(assignee="mine"), operator_id=op)
        assert [o.number for o in mine] == [order.number]
        assert work_orders.list_work_orders(db_session=s, filters=work_orders.WorkOrderFilter(status="new"), operator_id=op) == []
        with pytest.raises(errors.InvalidInput):
            work_orders.update_work_order(db_session=s, number=order.number, status="lost", now=NOW)


@pytest.mark.parametrize("text, allow_number, level", [
    ("非常满意", False, "非常满意"), ("我觉得不满意", False, "不满意"), ("非常不满意！", False, "非常不满意"),
    ("基本满意吧", False, "基本满意"), ("2", True, "满意"), ("5", True, "非常不满意"), ("5", False, None), ("你好", True, None),
    # a score is a score, five the best, whatever the order of the list offered
    ("5分", True, "非常满意"), ("给你打五星", False, "非常满意"), ("满分", False, "非常满意"), ("1分", True, "非常不满意"),
    ("两分", False, "不满意"), ("5分钟", True, None),
    # a degree said around a level
    ("不太满意 说得不够细", False, "不满意"), ("不是很满意", False, "不满意"), ("很不满意", False, "非常不满意"),
    ("特别满意", False, "非常满意"), ("比较满意", False, "满意"),
])
def test_rating_levels_from_text(text, allow_number, level):
    assert ratings.level_of(text, allow_number) == level


@pytest.mark.parametrize("level, opens_order", [("非常满意", False), ("基本满意", False), ("不满意", True), ("非常不满意", True)])
def test_dissatisfied_ratings_open_a_review_work_order(db, level, opens_order):
    with db.session() as s:
        cid = conversation(s, "r")
        rating = ratings.record_rating(db_session=s, conversation_id=cid, level=level, now=NOW)
        assert rating.score == {"非常满意": 5, "基本满意": 3, "不满意": 2, "非常不满意": 1}[level]
        orders = s.scalars(select(WorkOrder)).all()
        assert [(o.category, o.conversation_id) for o in orders] == ([("review", cid)] if opens_order else [])
        if opens_order:
            ratings.add_rating_comment(db_session=s, rating_id=rating.id, comment="窗口让我跑了三趟")
            assert "窗口让我跑了三趟" in orders[0].description


def test_passwords_are_argon2_and_wrong_ones_never_lock_the_account(db):
    with db.session() as s:
        op = operator(s, "li")
        assert op.password_hash.startswith("$argon2id$") and "Passw0rd-123" not in op.password_hash
    with db.session() as s:
        for _ in range(20):
            with pytest.raises(accounts.LoginRefused, match="用户名或密码不正确"):
                accounts.authenticate(db_session=s, username="li", password="wrong", now=NOW)
        assert accounts.authenticate(db_session=s, username="li", password="Passw0rd-123", now=NOW).username == "li"
        with pytest.raises(accounts.LoginRefused) as unknown:
            accounts.authenticate(db_session=s, username="nobody", password="x", now=NOW)
        assert unknown.value.message == accounts.WRONG


def test_login_back_off_is_per_name_and_address_and_grows():
    clock = [1000.0]
    throttle = LoginThrottle(free_failures=3, max_delay_seconds=600, clock=lambda: clock[0])
    for _ in range(3):
        assert throttle.wait("li", "203.0.113.9") == 0
        throttle.failed("li", "203.0.113.9")
    assert throttle.wait("li", "203.0.113.9") == 30  # the first back-off
    assert throttle.wait("li", "198.51.100.1") == 0 and throttle.wait("wang", "203.0.113.9") == 0
    assert throttle.blocked("li") and not throttle.blocked("wang")
    clock[0] += 31
    throttle.failed("LI ", "203.0.113.9")  # the name as typed, case and spaces aside
    assert throttle.wait("li", "203.0.113.9") == 60
    for _ in range(10):
        throttle.failed("li", "203.0.113.9")
    assert throttle.wait("li", "203.0.113.9") == 600  # capped
    throttle.clear("li")
    assert throttle.wait("li", "203.0.113.9") == 0
    throttle.failed("ghost", "203.0.113.9")
    throttle.succeeded("ghost", "203.0.113.9")
    assert throttle.wait("ghost", "203.0.113.9") == 0


@pytest.mark.parametrize("password", ["short1", "onlyletterslong", "12345678901234"])
def test_weak_passwords_are_refused(db, password):
    with db.session() as s, pytest.raises(errors.InvalidInput, match="密码"):
        accounts.create_operator(db_session=s, username="weak", password=password)


def test_sessions_expire_when_idle_and_end_at_logout(db):
    with db.session() as s:
        op = operator(s)
        new = accounts.start_session(db_session=s, operator_id=op.id, now=NOW)
        assert s.get(Operator, op.id).last_seen_at is not None
    with db.session() as s:
        found = accounts.session_for(db_session=s, token=new.token, now=NOW + dt.timedelta(minutes=10), idle_minutes=30, max_hours=12)
        assert found is not None and found[1].username == "op1" and found[0].csrf_token == new.csrf_token
        assert accounts.session_for(db_session=s, token="forged", now=NOW, idle_minutes=30, max_hours=12) is None
        assert accounts.session_for(db_session=s, token=new.token, now=NOW + dt.timedelta(minutes=50), idle_minutes=30, max_hours=12) is None
        new = accounts.start_session(db_session=s, operator_id=op.id, now=NOW)
        accounts.end_session(db_session=s, token=new.token)
        assert accounts.session_for(db_session=s, token=new.token, now=NOW, idle_minutes=30, max_hours=12) is None
        assert s.get(Operator, op.id).last_seen_at is None  # logged out: no longer counted as on duty


def test_the_admin_account_settings_come_in_pairs():
    from bot.settings import Settings

    with pytest.raises(ValueError, match="CONSOLE_ADMIN_USER and CONSOLE_ADMIN_PASSWORD"):
        Settings(console_admin_user="admin")
    assert "Admin-pass" not in repr(Settings(console_admin_user="admin", console_admin_password="Admin-pass-2026"))


def test_a_reveal_is_audited_per_operator_and_expires(db):
    with db.session() as s:
        cid = conversation(s, "p")
        one, two = operator(s, "one").id, operator(s, "two").id
        audit.audit(db_session=s, operator_id=one, action="reveal", target=cid, detail="核实回电号码", now=NOW)
        check = dict(db_session=s, target=cid, minutes=10)
        assert audit.revealed_recently(operator_id=one, now=NOW + dt.timedelta(minutes=9), **check)
        assert not audit.revealed_recently(operator_id=one, now=NOW + dt.timedelta(minutes=11), **check)
        assert not audit.revealed_recently(operator_id=two, now=NOW, **check)
