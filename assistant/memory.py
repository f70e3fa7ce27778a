"""Conversations and commitments that outlast the process, in SQLite in the data dir."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from .store import SQLiteStore, scrub
from .types import Reply

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    at REAL NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    reply TEXT
);
CREATE TABLE IF NOT EXISTS commitments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    at REAL NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_session ON turns (session, id);
CREATE INDEX IF NOT EXISTS commitments_by_session ON commitments (session, id);
"""


@dataclass(frozen=True)
class Commitment:
    """Something the person said they will do."""

    text: str
    at: float


class MemoryStore(SQLiteStore):
    """Turns and commitments keyed by a session (or user) id."""

    SCHEMA = _SCHEMA
    TABLES = ("turns", "commitments")

    def add_turn(self, session: str, role: str, content: str, reply: Reply | None = None) -> None:
        stored = json.dumps(asdict(reply), ensure_ascii=False) if reply is not None else None
        with self._db() as db:
            db.execute(
                "INSERT INTO turns (session, at, role, content, reply) VALUES (?, ?, ?, ?, ?)",
                (session, time.time(), role, content, stored),
            )

    def turns(self, session: str) -> list[dict]:
        """The turns in order: {"role", "content", "reply"} (reply: the stored Reply as a dict)."""
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT role, content, reply FROM turns WHERE session = ? ORDER BY id", (session,))
            return [{"role": r, "content": c, "reply": json.loads(p) if p else None} for r, c, p in rows.fetchall()]

    def add_commitment(self, session: str, text: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO commitments (session, at, text) VALUES (?, ?, ?)", (session, time.time(), text))

    def commitments(self, session: str) -> list[Commitment]:
        if not self.path.exists():
            return []
        with self._db() as db:
            rows = db.execute("SELECT text, at FROM commitments WHERE session = ? ORDER BY id", (session,))
            return [Commitment(text, at) for text, at in rows.fetchall()]

    def redact(self, gone: Callable[[str], bool]) -> int:
        """Take the quotes of documents that are gone (``gone(doc_id)``: a person's removed
        uploads) out of every stored reply. Returns how many replies changed."""
        if not self.path.exists():
            return 0
        changed = 0
        with self._db() as db:
            rows = db.execute("SELECT id, content, reply FROM turns WHERE reply IS NOT NULL")
            for row_id, content, stored in rows.fetchall():
                reply = json.loads(stored)
                texts = [content, reply.get("text", "")]
                (content, reply["text"]), hit = scrub(texts, reply.get("citations", []), gone)
                if hit:
                    stored = json.dumps(reply, ensure_ascii=False)
                    db.execute("UPDATE turns SET content = ?, reply = ? WHERE id = ?", (content, stored, row_id))
                    changed += 1
        return changed
