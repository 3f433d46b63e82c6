"""Knowledge versions in the database: publish, list, read, roll back, and publish the repo's seed.

The newest version is the published knowledge. The repo's YAML is the seed: an empty database gets it as version 1
(by "seed"); when the seed files change later, a new seed version is published only while the newest version still
comes from the seed; once people have published, theirs is kept and a warning says how to import the seed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from knowledge.content import Content, is_guide, seed_content, seed_hash
from knowledge.models import KnowledgeVersion

log = logging.getLogger(__name__)
SEED = "seed"
SEED_LOCK = 12346  # PostgreSQL advisory lock: processes starting together publish the seed once


class VersionError(LookupError):
    """A version that does not exist; the message says which ones do."""


@dataclass(frozen=True)
class VersionInfo:
    number: int
    created_at: str
    author: str
    reason: str
    source: str
    items: int
    guides: int

    def line(self) -> str:
        return (f"{self.number}  {self.created_at}  {self.author}  {self.source}  "
                f"{self.items} 个事项（详细指南 {self.guides} 个）  {self.reason}").rstrip()


def latest_number(*, db_session: Session) -> int | None:
    """The published version's number (None before the seed is published)."""
    return db_session.execute(select(func.max(KnowledgeVersion.number))).scalar_one_or_none()


def latest(*, db_session: Session) -> tuple[int, str] | None:
    """(number, content digest) of the published version, or None."""
    row = db_session.execute(select(KnowledgeVersion.number, KnowledgeVersion.digest)
                             .order_by(KnowledgeVersion.number.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


def publish(*, db_session: Session, content: Content, author: str, reason: str, source: str,
            seed: str | None = None, search_model: bytes | None = None) -> int:
    """Store content (and its fitted search model, knowledge/fitted.py) as the newest version; returns its number."""
    number = (latest_number(db_session=db_session) or 0) + 1
    db_session.add(KnowledgeVersion(
        number=number, author=author[:64], reason=reason, source=source[:200], items=len(content.items),
        guides=sum(1 for d in content.items.values() if is_guide(d)), digest=content.digest(), seed_hash=seed,
        content=content.to_json(), search_model=search_model))
    db_session.flush()
    return number


def publish_on(*, db_session: Session, base: int, content: Content, author: str, reason: str, source: str,
               search_model: bytes | None = None) -> int:
    """Publish content made from version `base`, unless someone published another version since (then VersionError:
    the import is checked again against theirs)."""
    newest = latest_number(db_session=db_session)
    if newest != base:
        raise VersionError(f"校验期间已有人发布了第 {newest} 版（校验基于第 {base} 版），未发布；请重新导入，对照最新版本再校验一次。")
    return publish(db_session=db_session, content=content, author=author, reason=reason, source=source,
                   search_model=search_model)


def versions(*, db_session: Session) -> list[VersionInfo]:
    """Every version, newest first (without their content)."""
    rows = db_session.execute(select(KnowledgeVersion).order_by(KnowledgeVersion.number.desc())).scalars()
    return [VersionInfo(v.number, v.created_at.strftime("%Y-%m-%d %H:%M"), v.author, v.reason, v.source, v.items, v.guides)
            for v in rows]


def content_of(*, db_session: Session, number: int | None = None) -> Content:
    """A version's content (the newest by default)."""
    number = latest_number(db_session=db_session) if number is None else number
    version = db_session.get(KnowledgeVersion, number) if number is not None else None
    if version is None:
        known = [v.number for v in versions(db_session=db_session)]
        raise VersionError(f"没有第 {number} 版；现有版本：{'、'.join(map(str, known)) or '（无）'}")
    return Content.from_json(version.content)


def search_model_of(*, db_session: Session, number: int) -> bytes | None:
    """The version's fitted search model blob, if it has one."""
    return db_session.execute(select(KnowledgeVersion.search_model).where(KnowledgeVersion.number == number)).scalar_one_or_none()


def store_search_model(*, db_session: Session, number: int, search_model: bytes) -> None:
    """Keep the search model a process fitted for a version that had none (or another code's), for the others."""
    db_session.execute(update(KnowledgeVersion).where(KnowledgeVersion.number == number).values(search_model=search_model))


def rollback(*, db_session: Session, number: int, author: str, reason: str) -> int:
    """Republish version `number` as the newest; returns the new number."""
    content = content_of(db_session=db_session, number=number)
    return publish(db_session=db_session, content=content, author=author, reason=reason or f"回退到第 {number} 版",
                   source=f"rollback:{number}", search_model=search_model_of(db_session=db_session, number=number))


def ensure_seed(*, db_session: Session) -> int | None:
    """Publish the repo's seed when the database has no version, or when the seed files changed and the newest version
    is a seed version; returns the number published, or None. (The first app process to serve it stores its fitted
    search model with it.)"""
    if db_session.get_bind().dialect.name == "postgresql":
        db_session.execute(select(func.pg_advisory_xact_lock(SEED_LOCK)))
    current_hash = seed_hash()
    newest = db_session.execute(select(KnowledgeVersion).order_by(KnowledgeVersion.number.desc()).limit(1)).scalar_one_or_none()
    if newest is not None and (newest.source != SEED or newest.seed_hash == current_hash):
        if newest.source != SEED and _last_seed_hash(db_session) not in (None, current_hash):
            log.warning("知识库种子文件（knowledge/guides、knowledge/catalogue.yaml）已更改，但当前发布的是人工发布的第 %s 版，"
                        "仍按第 %s 版提供服务。如需采用种子文件，请运行：python -m bot kb import knowledge/guides "
                        "knowledge/catalogue.yaml --by 姓名 --why 原因", newest.number, newest.number)
        return None
    reason = "首次启动，发布仓库中的种子知识" if newest is None else "种子文件已更新"
    return publish(db_session=db_session, content=seed_content(), author=SEED, reason=reason, source=SEED, seed=current_hash)


def _last_seed_hash(db_session: Session) -> str | None:
    return db_session.execute(select(KnowledgeVersion.seed_hash).where(KnowledgeVersion.source == SEED)
                              .order_by(KnowledgeVersion.number.desc()).limit(1)).scalar_one_or_none()
