"""Alembic migrations (bot/migrations/): they build exactly the models' schema, run once, and adopt a database
made before migrations existed."""
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from bot.db import MIGRATIONS, Base, Database, _set_wal, import_models

LATER_TABLES = {"knowledge_versions", "turn_outcomes", "booking_attendance"}  # added by migrations after 0001: never made by create_all
LATER_INDEXES = ["ix_work_orders_department", "ix_work_orders_hot_group"]  # 0005 (appeals)
EARLIER_TABLES = ["CREATE TABLE pending_inputs (conversation_id VARCHAR(64) NOT NULL PRIMARY KEY "
                  "REFERENCES conversations (id), kind VARCHAR(32) NOT NULL, data JSON NOT NULL, "
                  "expires_at DATETIME NOT NULL)"]  # made by create_all then, removed from the models by 0006
LATER_COLUMNS = {"operators": ["department"],
                 "work_orders": ["appeal_type", "place", "since", "wish", "category1", "category2", "department", "confidence",
                                 "urgent", "due_at", "dispatched_at", "accepted_at", "extension_days", "extension_reason",
                                 "extension_pending", "returned_reason", "escalated_at", "reminded_at", "overdue_at",
                                 "reply_delivered_at", "hot_group"]}


def head() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def version(database: Database) -> str:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrations_build_exactly_the_models_schema(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    database.migrate()
    import_models()
    with database.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert version(database) == head()
    database.migrate()  # a second start changes nothing
    assert version(database) == head()


def test_a_database_made_by_create_all_is_adopted_with_its_data(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    import_models()
    before_migrations = [t for t in Base.metadata.sorted_tables if t.name not in LATER_TABLES]
    Base.metadata.create_all(database.engine, tables=before_migrations)  # how the schema was made before migrations
    with database.engine.begin() as connection:  # ... without what later migrations add to those tables
        for table_sql in EARLIER_TABLES:
            connection.execute(text(table_sql))
        for index in LATER_INDEXES:
            connection.execute(text(f"DROP INDEX {index}"))
        for table, columns in LATER_COLUMNS.items():
            for column in columns:
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO conversations (id, channel, sender, created_at, updated_at) "
                                "VALUES ('c1', 'web', 's1', '2026-11-30 10:00:00', '2026-11-30 10:00:00')"))
    assert "alembic_version" not in inspect(database.engine).get_table_names()
    database.migrate()
    assert version(database) == head()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT sender FROM conversations WHERE id = 'c1'")).scalar_one() == "s1"
    assert "pending_inputs" not in inspect(database.engine).get_table_names()


def test_processes_starting_together_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    databases = [Database(url) for _ in range(4)]  # separate engines, as separate app processes have
    errors = []

    def start(database):
        try:
            database.migrate()
        except Exception as error:  # noqa: BLE001  (collected and asserted below)
            errors.append(error)

    threads = [threading.Thread(target=start, args=(database,)) for database in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert version(databases[0]) == head()


def test_revision_command_finds_nothing_to_change_when_models_and_migrations_agree(tmp_path, monkeypatch):
    """`python -m bot db revision` writes the models' difference from the newest revision; today there is none."""
    from bot import db

    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(db, "MIGRATIONS", scripts)
    path = Path(db.new_revision("nothing changed"))
    source = path.read_text(encoding="utf-8")
    operations = source.split("def upgrade() -> None:")[1]
    assert "pass" in operations and "op." not in operations  # no table, column or index to change
    written = ScriptDirectory(str(scripts))
    assert written.get_revision(written.get_current_head()).down_revision == head()


def test_stored_knowledge_versions_get_the_life_events_they_were_served_with(tmp_path):
    """0007: a version stored before life events were part of the versions (the items alone, or items and pinned
    answers) gets the repository's events; its digest is the content's again; a seed version whose files are still
    the repository's gets the seed hash that counts the event files, so the app does not republish the seed."""
    import hashlib
    import json
    import zlib

    from alembic import command

    from bot.db import alembic_config
    from knowledge import versions
    from knowledge.content import Content, seed_content, seed_hash
    from knowledge.loader import CATALOGUE_FILE, GUIDES_DIR
    from knowledge.pinned import PINNED_FILE

    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    config = alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    seed = seed_content()
    old_seed_hash = hashlib.sha256()  # as 0006's code hashed the seed: guides, catalogue, pinned answers
    for path in [*sorted(GUIDES_DIR.glob("*.yaml")), CATALOGUE_FILE, PINNED_FILE]:
        if path.exists():
            old_seed_hash.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    pin = {"编号": "P1", "问法": ["红本本掉了咋整"], "答复": "请到民政局婚姻登记处补领。", "事项": None, "审核人": "李", "日期": "2026-12-01"}
    stored = [json.loads(zlib.decompress(Content(seed.items).to_json())),  # the items alone, as 0002 stored them
              {"items": json.loads(zlib.decompress(Content(seed.items).to_json())), "pinned": [pin]}]
    with database.engine.begin() as connection:
        for number, data, seed_of in ((1, stored[0], old_seed_hash.hexdigest()), (2, stored[1], None)):
            connection.execute(text("INSERT INTO knowledge_versions (number, created_at, author, reason, source, items, guides, "
                                    "digest, seed_hash, content) VALUES (:n, '2026-12-01 10:00:00', 'seed', '', :source, 1, 1, "
                                    "'old', :seed_hash, :content)"),
                               {"n": number, "source": "seed" if seed_of else "edit", "seed_hash": seed_of,
                                "content": zlib.compress(json.dumps(data, ensure_ascii=False).encode("utf-8"))})
    database.migrate()
    assert version(database) == head()
    with database.session() as session:
        first, second = (versions.content_of(db_session=session, number=n) for n in (1, 2))
        assert first.events == seed.events and second.events == seed.events and second.pinned == [pin]
        assert first.items == seed.items
        assert versions.latest(db_session=session) == (2, second.digest())
        digests = dict(session.execute(text("SELECT number, digest FROM knowledge_versions")).all())
        assert digests[1] == first.digest()
        assert session.execute(text("SELECT seed_hash FROM knowledge_versions WHERE number = 1")).scalar_one() == seed_hash()
    assert len(first.to_kb().events) == len(seed.events) >= 12


def test_wal_mode_waits_for_another_connection_changing_the_file(tmp_path):
    """Two processes opening a new file at once both set WAL mode; the loser's "database is locked" comes at once,
    outside SQLite's busy timeout (the cause of this file's concurrent-migration test failing now and then)."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")  # as the other process is, mid-change
    other = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)  # no busy handler
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("PRAGMA journal_mode=WAL")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    _set_wal(other.cursor())
    release.join()
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    holder.close()
    other.close()
