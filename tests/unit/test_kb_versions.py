"""Knowledge versions in the database (the seed, publish, diff, rollback, export), the `kb` commands, and the swap of
the process's index when a new version is published."""
import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from booking.test_booking_concurrency import postgres_url  # noqa: F401  (the PostgreSQL server fixture)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from support import ROOT

from actions.guides import ActionAnswerGuide
from bot.db import Database
from knowledge import fitted, service, versions
from knowledge.content import Content, seed_content
from knowledge.diff import diff


@pytest.fixture
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    db.migrate()
    yield db
    db.engine.dispose()


@pytest.fixture
def fresh_index():
    """Tests here swap the process's index: every other test sees the repo's YAML again afterwards."""
    service.reset()
    yield
    service.reset()


def seeded(database) -> Content:
    with database.session() as session:
        versions.ensure_seed(db_session=session)
        return versions.content_of(db_session=session)


def without(content: Content, name: str) -> Content:
    return Content({k: v for k, v in content.items.items() if v["事项名称"] != name})


def with_fee(content: Content, name: str, fee: str) -> Content:
    return Content({k: ({**v, "是否收费": True, "收费标准": fee} if v["事项名称"] == name else v) for k, v in content.items.items()})


def publish(database, content: Content, who: str = "王五", why: str = "测试") -> int:
    with database.session() as session:
        return versions.publish(db_session=session, content=content, author=who, reason=why, source="edit")


def test_an_empty_database_gets_the_seed_as_version_one_once(database):
    seed = seeded(database)
    with database.session() as session:
        assert versions.ensure_seed(db_session=session) is None  # a second start publishes nothing
        [info] = versions.versions(db_session=session)
    assert (info.number, info.author, info.source, info.items) == (1, "seed", "seed", len(seed.items))
    assert seed.to_kb().by_name("个体工商户设立登记").detailed and len(seed.items) > 1000


def test_a_changed_seed_is_published_only_while_the_newest_version_is_the_seed(database, monkeypatch, caplog):
    seed = seeded(database)
    monkeypatch.setattr(versions, "seed_hash", lambda: "changed-1")
    with database.session() as session:
        assert versions.ensure_seed(db_session=session) == 2  # nobody published since: the new seed is served
    publish(database, without(seed, "出生登记"))  # version 3, by a person
    monkeypatch.setattr(versions, "seed_hash", lambda: "changed-2")
    with caplog.at_level(logging.WARNING), database.session() as session:
        assert versions.ensure_seed(db_session=session) is None  # theirs is kept
        assert versions.latest_number(db_session=session) == 3
    assert "python -m bot kb import knowledge/guides" in caplog.text


def test_publish_diff_rollback_and_export(database, tmp_path):
    seed = seeded(database)
    two = publish(database, with_fee(without(seed, "出生登记"), "补领结婚证", "工本费9元"), who="李四", why="十二月更新")
    with database.session() as session:
        lines = [info.line() for info in versions.versions(db_session=session)]
        changes = diff(versions.content_of(db_session=session, number=1), versions.content_of(db_session=session, number=two))
        three = versions.rollback(db_session=session, number=1, author="李四", reason="")
        assert versions.content_of(db_session=session).items == seed.items
    assert lines[0].startswith("2 ") and "李四" in lines[0] and "十二月更新" in lines[0] and lines[1].startswith("1 ")
    assert changes.removed == ["出生登记"] and changes.added == []
    assert changes.changed == [("补领结婚证", ["是否收费", "收费标准"])]
    assert three == 3
    guides, catalogue = seed.export(tmp_path / "out")
    assert guides == 54 and (tmp_path / "out" / "guides" / "birth-registration.yaml").exists()
    assert guides + catalogue == len(seed.items)


def test_a_version_published_meanwhile_stops_an_import(database):
    seed = seeded(database)
    publish(database, without(seed, "出生登记"))
    with database.session() as session, pytest.raises(versions.VersionError, match="已有人发布了第 2 版"):
        versions.publish_on(db_session=session, base=1, content=seed, author="张三", reason="", source="import:x.csv")


def test_a_missing_version_is_said_plainly(database):
    seeded(database)
    with database.session() as session, pytest.raises(versions.VersionError, match="没有第 7 版；现有版本：1"):
        versions.content_of(db_session=session, number=7)


def test_refresh_swaps_the_index_and_a_conversation_about_a_removed_item_is_told(database, fresh_index):
    seed = seeded(database)
    assert service.refresh(database) == 1
    before = service.get_index()
    birth = before.kb.by_name("出生登记").id
    assert service.refresh(database) == 1 and service.get_index() is before  # nothing new: nothing rebuilt
    publish(database, without(seed, "出生登记"))
    assert service.refresh(database) == 2
    assert service.get_index() is not before and service.get_index().kb.by_id(birth) is None
    assert before.kb.by_id(birth) is not None  # a question in progress finishes on the index it started with
    assert service.retired_name(birth) == "出生登记"
    dispatcher = CollectingDispatcher()
    follow_up = Tracker("t", {"item": birth}, {"text": "那要多久", "intent": {"name": "ask_time_limit"}, "entities": []},
                        [], False, None, {}, "action_listen")
    events = asyncio.run(ActionAnswerGuide().run(dispatcher, follow_up, {}))
    assert "“出生登记”已不在知识库中" in dispatcher.messages[0]["text"] and "12345" in dispatcher.messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "item", "value": None} in events
    with database.session() as session:
        versions.rollback(db_session=session, number=1, author="王五", reason="恢复")
    assert service.refresh(database) == 3 and service.get_index().kb.by_id(birth) is not None
    assert service.retired_name(birth) is None


def test_the_stored_search_model_serves_the_same_answers_and_is_used_only_when_it_verifies(monkeypatch):
    content = seed_content()
    index, blob = fitted.fit(content, "key-1")
    shared = fitted.load(content, blob, "key-1")
    for question in ("身份证丢了怎么办", "开个体户要带什么", "孩子刚生下来要去哪上户口"):
        assert [(h.entry.id, round(h.score, 6)) for h in shared.search(question)] == \
               [(h.entry.id, round(h.score, 6)) for h in index.search(question)]
    unpickled = []
    monkeypatch.setattr(fitted.pickle, "loads", lambda data: unpickled.append(data))
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    assert fitted.load(content, blob, "another-key") is None and fitted.load(content, tampered, "key-1") is None
    assert fitted.load(content, None, "key-1") is None
    monkeypatch.setattr(fitted, "fingerprint", lambda: b"other search code".ljust(32, b"\0"))
    assert fitted.load(content, blob, "key-1") is None  # fitted by other search code
    assert unpickled == []  # nothing unverified is ever unpickled


class Fits:
    """A stand-in for building an index: counts the fits, gives a model and combiner that pickle."""

    def __init__(self):
        self.fitted = 0

    def __call__(self, fit_model):
        self.fitted += fit_model
        return SimpleNamespace(model=("model", self.fitted) if fit_model else None, combiner=("combiner",))


def test_a_fit_is_kept_per_content_and_code_and_a_broken_cache_file_is_fitted_again(tmp_path, monkeypatch, caplog):
    build = Fits()
    first, payload = fitted.fitted_parts("content-1", build, tmp_path)
    again, same = fitted.fitted_parts("content-1", build, tmp_path)
    assert build.fitted == 1 and same == payload and again.model == first.model == ("model", 1)
    other, _ = fitted.fitted_parts("content-2", build, tmp_path)  # other knowledge: fitted
    assert build.fitted == 2 and other.model == ("model", 2)
    monkeypatch.setattr(fitted, "_code_digest", lambda: "other search code")
    fitted.fitted_parts("content-1", build, tmp_path)  # the same knowledge, other code: fitted
    assert build.fitted == 3
    monkeypatch.undo()
    (cached,) = [p for p in tmp_path.glob("search-model-*.bin") if p.read_bytes() == payload]
    cached.write_bytes(b"not a pickle")
    with caplog.at_level(logging.WARNING):
        fitted.fitted_parts("content-1", build, tmp_path)
    assert build.fitted == 4 and "重新生成" in caplog.text and cached.read_bytes() != b"not a pickle"
    fitted.fitted_parts("content-1", build, None)  # no cache (the benchmark times a fit)
    assert build.fitted == 5


def test_a_version_that_changes_no_word_the_fit_reads_is_published_with_the_fit_before(tmp_path, monkeypatch):
    """A fee, a place or a material edited: the same model, no fit (a minute of two cores). A name, alias, keyword,
    example question or situation edited, or the order changed: fitted again."""
    import copy

    from knowledge.search import SearchIndex

    fits = []

    class Index(SearchIndex):
        def __init__(self, kb, fit_model=True):  # noqa: D107  (a stand-in: records the fit, builds nothing)
            self.model, self.combiner = (len(fits), "fitted") if fit_model else None, ("combiner",)
            fits.extend([kb] if fit_model else [])

    monkeypatch.setattr(fitted, "SearchIndex", Index)
    monkeypatch.setattr(fitted, "CACHE_DIR", tmp_path)
    content = seed_content()
    item_id, guide = next((i, d) for i, d in content.items.items() if d.get("常见问法") and d.get("申请材料"))

    def edited(field, value):
        other = Content(copy.deepcopy(content.items), content.pinned, content.events)
        other.items[item_id][field] = value(other.items[item_id][field]) if callable(value) else value
        return other

    fitted.fit(content, "key")
    assert len(fits) == 1
    for field, value in (("办理地点", "县政务服务中心三楼"), ("办理时间", "工作日 9:00-17:00"),
                         ("申请材料", lambda materials: materials[:1]), ("承诺办结时限", 1), ("咨询电话", "0833-1234567")):
        index, _ = fitted.fit(edited(field, value), "key")
        assert len(fits) == 1 and index.model == (0, "fitted"), field
    for field, value in (("事项名称", guide["事项名称"] + "（新）"), ("别名", [*(guide.get("别名") or []), "新别名"]),
                         ("关键词", [*(guide.get("关键词") or []), "新词"]), ("常见问法", [*guide["常见问法"], "新问法怎么办"]),
                         ("常见情形", [*(guide.get("常见情形") or []), "新情形"])):
        before = len(fits)
        fitted.fit(edited(field, value), "key")
        assert len(fits) == before + 1, field
    reordered = Content(dict(reversed(list(content.items.items()))), content.pinned, content.events)
    before = len(fits)
    fitted.fit(reordered, "key")
    assert len(fits) == before + 1  # the model's classes are the entries' positions


def test_the_cache_keeps_only_the_newest_fits(tmp_path, monkeypatch):
    monkeypatch.setattr(fitted, "CACHE_KEEP", 2)
    build = Fits()
    for number in range(4):
        fitted.fitted_parts(f"content-{number}", build, tmp_path)
        os.utime(max(tmp_path.glob("*.bin"), key=lambda p: p.stat().st_mtime_ns), (number + 10, number + 10))
    assert len(list(tmp_path.glob("search-model-*.bin"))) == 2 and not list(tmp_path.glob("*.tmp"))
    fitted.fitted_parts("content-3", build, tmp_path)
    assert build.fitted == 4  # the newest is still there


def test_a_fit_another_process_pruned_meanwhile_is_no_caching_failure(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(fitted, "CACHE_KEEP", 1)
    gone = tmp_path / "search-model-gone.bin"
    real_stat = Path.stat

    def stat(path, *args, **kwargs):
        if path == gone:
            raise FileNotFoundError(path)
        return real_stat(path, *args, **kwargs)

    gone.write_bytes(b"x")
    monkeypatch.setattr(Path, "stat", stat)
    with caplog.at_level(logging.WARNING):
        fitted.fitted_parts("content-1", Fits(), tmp_path)
    assert "未能缓存" not in caplog.text and len(list(tmp_path.glob("search-model-*.bin"))) == 1


def test_the_first_process_to_serve_a_version_fits_in_a_child_and_keeps_its_model_for_the_others(database, fresh_index,
                                                                                                   monkeypatch):
    seeded(database)
    with database.session() as session:
        assert versions.search_model_of(db_session=session, number=1) is None

    def not_here(*_args):
        raise AssertionError("the serving process fitted the model itself")

    monkeypatch.setattr(fitted, "fit", not_here)  # the child process imports its own, unpatched fitted.fit
    assert service.refresh(database, "key-1") == 1
    assert service.get_index().resolve("孩子刚生下来要去哪上户口").kind == "answer"
    with database.session() as session:
        blob = versions.search_model_of(db_session=session, number=1)
    assert fitted.load(seed_content(), blob, "key-1") is not None


def kb(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "bot", "kb", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_kb_commands_end_to_end(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    bad = tmp_path / "bad.csv"
    bad.write_text("事项名称,实施主体,事项类型,是否收费\n夹江县命令行事项,夹江县测试局,行政许可,也许\n", encoding="utf-8")
    good = tmp_path / "good.csv"
    good.write_text("事项名称,实施主体,事项类型\n夹江县命令行事项,夹江县测试局,行政许可\n", encoding="utf-8")
    refused = kb(url, "import", str(bad), "--by", "张三")
    assert refused.returncode == 1 and "bad.csv 第2行: 是否收费: 应为“是”或“否”" in refused.stdout
    assert "未导入任何内容；当前发布的仍是第 1 版" in refused.stderr
    dry = kb(url, "import", str(good), "--dry-run")
    assert dry.returncode == 0 and "+ 夹江县命令行事项" in dry.stdout and "未发布" in dry.stdout
    applied = kb(url, "import", str(good), "--by", "张三", "--why", "新增事项")
    assert applied.returncode == 0 and "已发布第 2 版" in applied.stdout, applied.stderr
    assert kb(url, "diff", "1", "2").stdout.splitlines()[1:3] == ["新增 1 个事项，修改 0 个，删除 0 个。", "新增："]
    assert "已把第 1 版重新发布为第 3 版" in kb(url, "rollback", "1", "--by", "张三").stdout
    lines = kb(url, "versions").stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["3", "2", "1"] and "新增事项" in lines[1] and "张三" in lines[1]
    assert kb(url, "rollback", "9").returncode == 1


def test_versions_work_on_postgresql(postgres_url):  # noqa: F811  (the fixture imported above)
    database = Database(postgres_url)
    database.migrate()
    seed = seeded(database)
    publish(database, without(seed, "出生登记"))
    with database.session() as session:
        assert [v.number for v in versions.versions(db_session=session)] == [2, 1]
        assert len(versions.content_of(db_session=session).items) == len(seed.items) - 1
    database.engine.dispose()


def test_life_events_are_part_of_a_version(database, tmp_path):
    """The seed holds the repo's life events; a version stores them, its diff names an event changed, a rollback
    brings back the events of its day, and `kb export` writes them as DIR/events/<编号>.yaml."""
    seed = seeded(database)
    assert {d["编号"] for d in seed.events} >= {"newborn", "marriage", "open-shop"}
    newborn = next(d for d in seed.events if d["编号"] == "newborn")
    shorter = {**newborn, "步骤": newborn["步骤"][:2]}
    changed = Content(seed.items, [], [shorter if d is newborn else d for d in seed.events])
    assert changed.digest() != seed.digest()
    with database.session() as session:
        number = versions.publish(db_session=session, content=changed, author="李", reason="测试", source="edit")
        stored = versions.content_of(db_session=session, number=number)
        assert stored.events == changed.events and stored.digest() == changed.digest()
        assert any(line.startswith("  ~ 新生儿出生：步骤") for line in diff(seed, stored).lines())
        back = versions.rollback(db_session=session, number=1, author="李", reason="")
        assert versions.content_of(db_session=session, number=back).events == seed.events
    served = stored.to_kb().events
    assert [len(e.steps) for e in served if e.id == "newborn"] == [2]
    stored.export(tmp_path)
    assert sorted(p.stem for p in (tmp_path / "events").glob("*.yaml")) == sorted(d["编号"] for d in seed.events)
    assert next(d for d in Content.from_json(stored.to_json()).events if d["编号"] == "newborn")["步骤"] == shorter["步骤"]
