"""Life events (一件事) are part of the knowledge versions: every stored version gets the repository's events

Before this revision the events were read from knowledge/events/ by every process, beside the published version;
now a version holds them, so the inbox can publish a new step and a rollback brings back the events of its day.
Each stored version gets the events the repository holds now (what every process served with it), its digest is
computed again, and a seed version whose seed files are still the repository's gets the seed hash that now counts
the event files too (so the app does not take them for a changed seed).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:30:00
"""
import datetime as dt
import hashlib
import json
import zlib
from pathlib import Path

from alembic import op
import sqlalchemy as sa
import yaml


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

KNOWLEDGE = Path(__file__).resolve().parents[3] / "knowledge"
versions = sa.table("knowledge_versions", sa.column("number", sa.Integer), sa.column("digest", sa.String),
                    sa.column("seed_hash", sa.String), sa.column("source", sa.String),
                    sa.column("content", sa.LargeBinary))


def _events() -> list[dict[str, object]]:
    """The repository's event files as a version stores them (as knowledge/events.py reads them today)."""
    documents = []
    for path in sorted((KNOWLEDGE / "events").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        document = {"编号": str(data.get("编号") or path.stem), **{k: v for k, v in data.items() if k != "编号"}}
        if isinstance(document.get("核对日期"), dt.date):
            document["核对日期"] = document["核对日期"].isoformat()
        documents.append(document)
    return documents


def _seed_hash(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def upgrade() -> None:
    events = _events()
    seed_files = [*sorted((KNOWLEDGE / "guides").glob("*.yaml")), KNOWLEDGE / "catalogue.yaml", KNOWLEDGE / "pinned.yaml"]
    old_hash, new_hash = _seed_hash(seed_files), _seed_hash(seed_files + sorted((KNOWLEDGE / "events").glob("*.yaml")))
    connection = op.get_bind()
    for number, seed_hash, blob in connection.execute(sa.select(versions.c.number, versions.c.seed_hash, versions.c.content)):
        data = json.loads(zlib.decompress(blob).decode("utf-8"))
        if isinstance(data.get("items"), dict) and isinstance(data.get("pinned"), list):
            if "events" in data:
                continue
            data = {"items": data["items"], "pinned": data["pinned"], "events": events}
        else:  # the items alone
            data = {"items": data, "pinned": [], "events": events}
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        values = {"content": zlib.compress(text.encode("utf-8"), 6),
                  "digest": hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()}
        if seed_hash is not None and seed_hash == old_hash:
            values["seed_hash"] = new_hash
        connection.execute(versions.update().where(versions.c.number == number).values(**values))


def downgrade() -> None:
    connection = op.get_bind()
    for number, blob in connection.execute(sa.select(versions.c.number, versions.c.content)):
        data = json.loads(zlib.decompress(blob).decode("utf-8"))
        if isinstance(data.get("items"), dict) and isinstance(data.get("pinned"), list):
            data = {"items": data["items"], "pinned": data["pinned"]} if data["pinned"] else data["items"]
            text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
            connection.execute(versions.update().where(versions.c.number == number).values(
                content=zlib.compress(text.encode("utf-8"), 6),
                digest=hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()))
