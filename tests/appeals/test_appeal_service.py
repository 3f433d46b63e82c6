"""Appeals as work orders (bot/appeals/service.py, routing.py): routing and deadlines on the holiday calendar,
automatic dispatch or the hotline's review, the department's flow, reminders and overdue alerts on a fake clock,
hot issues on seeded data. The classification is given by hand here; tests/appeals/test_appeal_routing.py tests
the classifier."""
import datetime as dt

import pytest
import yaml

from bot.appeals import service
from bot.appeals.classifier import Classification
from bot.appeals.routing import ROUTING_FILE, Routing
from bot.clock import TZ, aware
from bot.db import Database
from bot.errors import Conflict, InvalidInput, NotFound
from bot.handoff import accounts
from bot.handoff.models import AuditEntry

FILED = dt.datetime(2026, 9, 30, 10, 0, tzinfo=TZ)  # Wednesday before the National Day holiday (10月1日-7日, 10月10日 调休上班)


@pytest.fixture(scope="module")
def routing():
    return Routing.load()


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    db.migrate()
    return db


def classified(routing, first="环境保护", second="环境污染", confidence=0.9, urgent=False, kind="投诉") -> Classification:
    code = routing.department_for(first, second)
    return Classification(first, second, code, routing.department_name(code), kind, confidence, confidence, urgent, [], [])


def department_user(session, code: str, name: str):
    return accounts.create_operator(db_session=session, username=name, password="Dept-pass-2026", role="department",
                                    display_name=name, department=code)


def hotline_user(session):
    return accounts.create_operator(db_session=session, username="hotline", password="Hot-line-2026", display_name="1号坐席")


def test_every_first_level_class_has_a_department_and_every_route_names_a_known_one(routing):
    assert set(routing.routes) == set(routing.taxonomy) and len(routing.taxonomy) == 15
    for first, seconds in routing.taxonomy.items():
        for second in seconds:
            assert routing.department_for(first, second) in routing.departments
    assert routing.department_name(routing.department_for("环境保护", "环境污染")) == "乐山市夹江生态环境局"
    assert routing.department_name(routing.department_for("农村农业", "林业管理")) == "县林业局"


def test_a_broken_routing_file_is_refused_with_the_reason_in_chinese(tmp_path):
    data = yaml.safe_load(ROUTING_FILE.read_text(encoding="utf-8"))
    data["routes"]["民政"]["优抚"] = "no_such_department"
    del data["routes"]["政法"]
    broken = tmp_path / "routing.yaml"
    broken.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        Routing.load(broken)
    assert "no_such_department 不在 departments 里" in refused.value.reason
    assert "一级分类“政法”没有默认承办部门" in refused.value.reason


def test_deadlines_count_working_days_over_the_national_day_holiday(routing):
    # 投诉: 5 working days from Wed 30 Sep: 8 Oct, 9 Oct, Sat 10 Oct (调休上班), 12 Oct, 13 Oct
    assert routing.due_at(FILED, "投诉", urgent=False) == dt.datetime(2026, 10, 13, 17, 30, tzinfo=TZ)
    assert routing.due_at(FILED, "求助", urgent=True) == dt.datetime(2026, 10, 8, 17, 30, tzinfo=TZ)  # urgent: 1 working day
    assert routing.due_at(FILED, "举报", urgent=False).date() == dt.date(2026, 10, 20)  # 10 working days
    assert routing.working_days_left(FILED, routing.due_at(FILED, "投诉", False)) == 5


def test_a_confident_appeal_is_dispatched_an_uncertain_or_urgent_one_waits_for_the_hotline(database, routing):
    with database.session() as session:
        sure = service.file_appeal(db_session=session, routing=routing, classification=classified(routing),
                                   intake=service.Intake(what="楼下烧烤店油烟熏得窗户都不敢开", place="漹城街道东风路"), now=FILED)
        unsure = service.file_appeal(db_session=session, routing=routing, classification=classified(routing, confidence=0.3),
                                     intake=service.Intake(what="那边的事情一直没人管"), now=FILED)
        urgent = service.file_appeal(db_session=session, routing=routing,
                                     classification=classified(routing, "城乡建设", "城市建设和市政管理", 0.95, urgent=True),
                                     intake=service.Intake(what="小区门口燃气泄漏，味道很大", appeal_type="求助"), now=FILED)
        assert (sure.status, sure.department, sure.appeal_type) == ("dispatched", "huanjing", "投诉")
        assert aware(sure.due_at) == dt.datetime(2026, 10, 13, 9, 30, tzinfo=dt.timezone.utc)
        assert unsure.status == "review" and urgent.status == "review" and urgent.urgent
        listed = service.list_appeals(db_session=session, operator=hotline_user(session))
        assert listed[0].number == urgent.number  # urgent first in the hotline's queue
        with pytest.raises(InvalidInput):
            service.file_appeal(db_session=session, routing=routing, classification=classified(routing),
                                intake=service.Intake(what="  "), now=FILED)


def test_the_department_signs_answers_asks_for_more_time_and_returns(database, routing):
    later = FILED + dt.timedelta(hours=3)
    with database.session() as session:
        hotline = hotline_user(session)
        environment, forestry = department_user(session, "huanjing", "huanjing1"), department_user(session, "linye", "linye1")
        order = service.file_appeal(db_session=session, routing=routing, classification=classified(routing, confidence=0.3),
                                    intake=service.Intake(what="河里漂着死鱼，还有股怪味"), now=FILED)
        with pytest.raises(NotFound):  # not dispatched yet: the department does not see it
            service.accept(db_session=session, number=order.number, operator=environment, now=later)
        service.dispatch(db_session=session, routing=routing, number=order.number, operator=hotline, now=later,
                         category1="环境保护", category2="环境污染")
        assert service.list_appeals(db_session=session, operator=forestry) == []
        assert [o.number for o in service.list_appeals(db_session=session, operator=environment)] == [order.number]
        with pytest.raises(NotFound):  # another department's order is invisible, not forbidden
            service.accept(db_session=session, number=order.number, operator=forestry, now=later)
        service.accept(db_session=session, number=order.number, operator=environment, now=later)
        with pytest.raises(Conflict):
            service.accept(db_session=session, number=order.number, operator=environment, now=later)
        service.request_extension(db_session=session, number=order.number, operator=environment, days=3, reason="需要取水样送检",
                                  now=later)
        before = aware(order.due_at)
        service.decide_extension(db_session=session, routing=routing, number=order.number, operator=hotline, approve=True, now=later)
        assert routing.working_days_left(before, aware(order.due_at)) == 3
        with pytest.raises(InvalidInput):
            service.reply(db_session=session, number=order.number, operator=environment, text="好", now=later)
        service.reply(db_session=session, number=order.number, operator=environment, text="已现场取样，系上游养殖场排污，已责令整改。",
                      now=later)
        assert order.status == "replied" and order.reply_delivered_at is None
        second = service.file_appeal(db_session=session, routing=routing, classification=classified(routing, "农村农业", "林业管理"),
                                     intake=service.Intake(what="山上有人偷偷砍树拉出去卖"), now=FILED)
        service.return_order(db_session=session, number=second.number, operator=forestry, reason="系集体林地纠纷，应由乡镇调处",
                             now=later)
        assert second.status == "returned"
        service.dispatch(db_session=session, routing=routing, number=second.number, operator=hotline, now=later, department="sifa")
        assert (second.status, second.department) == ("dispatched", "sifa")
        actions = [e.action for e in session.query(AuditEntry).filter(AuditEntry.target == order.number).order_by(AuditEntry.id)]
        assert actions == ["appeal_filed", "appeal_dispatch", "appeal_accept", "appeal_extension", "appeal_extension_decided",
                           "appeal_reply"]


def test_reminders_before_and_alerts_after_the_deadline_once_each_on_a_fake_clock(database, routing):
    with database.session() as session:
        order = service.file_appeal(db_session=session, routing=routing, classification=classified(routing),
                                    intake=service.Intake(what="工地晚上十一点还在打桩"), now=FILED)  # due 13 Oct 17:30
        for day, expect in [(dt.datetime(2026, 10, 9, 9, tzinfo=TZ), ([], [])),      # 3 working days left
                            (dt.datetime(2026, 10, 12, 9, tzinfo=TZ), ([order.number], [])),  # 1 left: reminded
                            (dt.datetime(2026, 10, 12, 15, tzinfo=TZ), ([], [])),    # not twice
                            (dt.datetime(2026, 10, 13, 18, tzinfo=TZ), ([], [order.number])),  # past due: alert
                            (dt.datetime(2026, 10, 14, 9, tzinfo=TZ), ([], []))]:
            reminded, overdue = service.check_deadlines(db_session=session, routing=routing, now=day)
            assert ([o.number for o in reminded], [o.number for o in overdue]) == expect, day
        escalated = service.escalate(db_session=session, number=order.number, operator=hotline_user(session), note="已超期，请今日答复",
                                     now=dt.datetime(2026, 10, 14, 9, tzinfo=TZ))
        assert escalated.escalated_at is not None


def test_similar_appeals_about_one_place_become_one_hot_issue(database, routing):
    texts = ["华头镇场镇那段路全是大坑，下雨天根本走不了", "华头镇场镇的路烂得很，坑坑洼洼，摩托车都摔了",
             "华头镇场镇路面坑太多了，下雨全是水凼凼", "场镇那条路坑坑洼洼好久了，没人修", "华头镇场镇公路坑洼严重，请尽快修补"]
    with database.session() as session:
        orders = [service.file_appeal(db_session=session, routing=routing, classification=classified(routing, "交通运输", "建设管理"),
                                      intake=service.Intake(what=text, place="华头镇场镇"), now=FILED + dt.timedelta(hours=i))
                  for i, text in enumerate(texts)]
        other = service.file_appeal(db_session=session, routing=routing, classification=classified(routing, "交通运输", "建设管理"),
                                    intake=service.Intake(what="建议在甘江镇汽车站增开到乐山的早班车", place="甘江镇"), now=FILED)
        groups = service.hot_issues(db_session=session, now=FILED + dt.timedelta(days=1), routing=routing)
        assert len(groups) == 1
        assert groups[0]["count"] == 5 and sorted(groups[0]["numbers"]) == sorted(o.number for o in orders)
        assert groups[0]["places"] == ["华头镇场镇"] and groups[0]["department"] == "县交通运输局"
        assert other.hot_group is None


def test_the_dashboard_counts_appeals_and_shows_the_hot_issue_in_the_page_figures_and_the_workbook(database, routing):
    import io

    from openpyxl import load_workbook

    from bot.insight import dashboard

    with database.session() as session:
        for i in range(3):
            service.file_appeal(db_session=session, routing=routing, classification=classified(routing, "交通运输", "建设管理"),
                                intake=service.Intake(what=f"木城镇场镇那段路全是大坑，第{i + 1}次反映了", place="木城镇场镇"),
                                now=FILED + dt.timedelta(hours=i))
        service.file_appeal(db_session=session, routing=routing, classification=classified(routing, urgent=True),
                            intake=service.Intake(what="化工厂排污口冒黄烟，附近的人都咳嗽", place="甘江镇"), now=FILED)
        data = dashboard.figures(db_session=session, start=FILED.date(), end=FILED.date(), routing=routing)
    appeals = data["appeals"]
    assert appeals["total"] == 4 and appeals["urgent"] == 1 and appeals["open"] == 4
    assert dict(appeals["by_category1"]) == {"交通运输": 3, "环境保护": 1}
    assert [(g["count"], g["department"], g["places"]) for g in appeals["hot"]] == [(3, "县交通运输局", ["木城镇场镇"])]
    book = load_workbook(io.BytesIO(dashboard.workbook(data)))
    hot = list(book["热点诉求"].iter_rows(values_only=True))
    assert hot[0][0] == "件数" and hot[1][0] == 3 and "木城镇场镇" in hot[1][5]
