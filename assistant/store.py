"""Where memory, commitments, feedback and uploads live: SQLite files in the data dir (the
default, no server) or one PostgreSQL database named by ASSISTANT_DATABASE_URL, through one code
path in SQLAlchemy Core.

The schema is made on first use and versioned by a ``schema_version`` table of one row (no
Alembic: four tables, made with ``create_all``; a change of shape bumps SCHEMA_VERSION and adds
its step to ``_MIGRATIONS``). A database newer than this code is refused rather than written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

SCHEMA_VERSION = 1
# Steps from one version to the next, run in order inside the schema lock: {2: [sql, ...]}.
_MIGRATIONS: dict[int, list[str]] = {}

metadata = MetaData()
turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("reply", Text),
    Index("turns_by_session", "session", "id"),
)
commitments = Table(
    "commitments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("text", Text, nullable=False),
    Index("commitments_by_session", "session", "id"),
)
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("session", Text, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("question", Text, nullable=False),
    Column("reply", Text, nullable=False),
    Column("citations", Text, nullable=False),
)
# A person's uploaded files, in a shared database: every app process can list and read them.
uploads = Table(
    "uploads",
    metadata,
    Column("owner", Text, primary_key=True),  # the session or user id
    Column("name", Text, primary_key=True),  # the safe file name save_upload gave it
    Column("at", Float, nullable=False),
    Column("content", LargeBinary, nullable=False),
)
# Values every process reads: "library-version" goes up whenever the index changes (so the others
# reload their retriever), "browser-secret" signs the ids the page keeps in browsers.
shared = Table(
    "shared",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine(url: str) -> Engine:
    """One engine (and connection pool) per database per process."""
    with _engines_lock:
        if url not in _engines:
            made = create_engine(url, pool_pre_ping=True)
            if made.dialect.name == "sqlite":
                event.listen(made, "connect", _sqlite_pragmas)
            _engines[url] = made
        return _engines[url]


def _sqlite_pragmas(connection: Any, _: Any) -> None:
    connection.execute("PRAGMA busy_timeout = 10000")


def check_url(url: str) -> str:
    """``url`` if it names a database this code can use; a clear error otherwise."""
    if not url.startswith(("postgresql://", "postgresql+psycopg://", "sqlite:///")):
        raise ValueError(f"ASSISTANT_DATABASE_URL must start with postgresql:// (or sqlite:///), got {url!r}")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class Store:
    """Tables in a database: a SQLite file at ``path`` unless ``url`` names a shared database."""

    TABLES: tuple[Table, ...] = ()  # tables with an ``at`` time, pruned by the retention policy
    ALSO: tuple[Table, ...] = ()  # its other tables

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.path = Path(path)
        self.url = check_url(url) if url else f"sqlite:///{self.path}"
        self.shared = url is not None and not self.url.startswith("sqlite")
        self._lock = threading.Lock()  # SQLite takes one writer at a time; so do we, per store
        self._ready = False

    def missing(self) -> bool:
        """True when there is nothing to read yet (a SQLite file not made): reads skip the database."""
        return not self.shared and not self.path.exists()

    def prune(self, before: float) -> int:
        """Delete the rows of every table in TABLES stored before ``before`` (a Unix time); how many."""
        if self.missing():
            return 0
        with self.db() as db:
            return sum(db.execute(delete(table).where(table.c.at < before)).rowcount for table in self.TABLES)

    @contextmanager
    def db(self) -> Iterator[Connection]:
        """A connection in a transaction, committed when the block ends well."""
        with self._lock:
            if not self.shared:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._ready = self._ready and self.path.exists()
            with engine(self.url).begin() as db:
                if not self._ready:
                    ensure_schema(db, [*self.TABLES, *self.ALSO])
                    self._ready = True
                yield db


def ensure_schema(db: Connection, tables: list[Table]) -> None:
    """Make ``tables`` (once, whichever process comes first) and check the schema's version."""
    if db.dialect.name == "postgresql":  # two processes starting at once make the tables once
        db.execute(text("SELECT pg_advisory_xact_lock(7240531)"))
    metadata.create_all(db, tables=[*tables, schema_version], checkfirst=True)
    found = db.execute(select(schema_version.c.version)).scalar()
    if found is None:
        db.execute(insert(schema_version).values(version=SCHEMA_VERSION))
        return
    if found > SCHEMA_VERSION:
        raise RuntimeError(
            f"the database's schema is version {found}, newer than this code's {SCHEMA_VERSION}: upgrade the app"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for statement in _MIGRATIONS.get(version, []):
            db.execute(text(statement))
    if found < SCHEMA_VERSION:
        db.execute(update(schema_version).values(version=SCHEMA_VERSION))


class SharedStore(Store):
    """Uploads and the values every app process shares, in the database of ASSISTANT_DATABASE_URL."""

    TABLES = (uploads,)
    ALSO = (shared,)

    def put(self, owner: str, name: str, content: bytes) -> None:
        with self.db() as db:
            db.execute(delete(uploads).where(uploads.c.owner == owner, uploads.c.name == name))
            db.execute(insert(uploads).values(owner=owner, name=name, at=time.time(), content=content))

    def names(self, owner: str) -> set[str]:
        """The names of ``owner``'s uploads."""
        with self.db() as db:
            return set(db.execute(select(uploads.c.name).where(uploads.c.owner == owner)).scalars())

    def files(self, owner: str, names: set[str]) -> dict[str, bytes]:
        """The contents of ``owner``'s uploads called ``names``: name -> content."""
        query = select(uploads.c.name, uploads.c.content).where(uploads.c.owner == owner, uploads.c.name.in_(names))
        with self.db() as db:
            return {name: bytes(content) for name, content in db.execute(query).all()}

    def remove(self, owner: str, name: str | None = None) -> int:
        """Drop one of ``owner``'s uploads, or all of them; how many."""
        where = [uploads.c.owner == owner] + ([uploads.c.name == name] if name is not None else [])
        with self.db() as db:
            return db.execute(delete(uploads).where(*where)).rowcount

    def owners(self) -> set[str]:
        with self.db() as db:
            return set(db.execute(select(uploads.c.owner).distinct()).scalars())

    def get(self, name: str) -> str | None:
        with self.db() as db:
            return db.execute(select(shared.c.value).where(shared.c.name == name)).scalar()

    def first(self, name: str, value: str) -> str:
        """The value stored under ``name``, storing ``value`` there if there was none (once, whichever
        process comes first)."""
        try:
            with self.db() as db:
                db.execute(insert(shared).values(name=name, value=value))
        except IntegrityError:
            pass
        found = self.get(name)
        assert found is not None
        return found

    def bump(self, name: str) -> int:
        """Add one to the counter ``name``; its new value."""
        with self.db() as db:
            if db.dialect.name == "postgresql":  # one increment at a time across processes
                db.execute(text("SELECT pg_advisory_xact_lock(7240532)"))
            value = int(db.execute(select(shared.c.value).where(shared.c.name == name)).scalar() or 0) + 1
            db.execute(delete(shared).where(shared.c.name == name))
            db.execute(insert(shared).values(name=name, value=str(value)))
            return value


REMOVED = "(quote removed with its document)"


def scrub(texts: list[str], citations: list[dict], gone: Callable[[str], bool]) -> tuple[list[str], bool]:
    """Take what a stored reply quoted from documents that are gone (``gone(doc_id)``) out of
    its texts and its citations (changed in place). Returns the texts and whether any changed."""
    changed = False
    for citation in citations:
        if not gone(citation.get("doc_id", "")) or citation.get("title") == REMOVED:
            continue
        for quoted in sorted({citation.get("quote", ""), citation.get("text", "")}, key=len, reverse=True):
            if quoted.strip():
                texts = [t.replace(quoted, REMOVED) for t in texts]
        citation.update(title=REMOVED, section="", text="", quote="", quote_start=0, quote_end=0)
        changed = True
    return texts, changed
