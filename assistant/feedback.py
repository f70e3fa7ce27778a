"""Thumbs up or down on replies, kept in SQLite in the data dir."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TextIO

from .store import SQLiteStore, scrub
from .types import Reply

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    session TEXT NOT NULL,
    rating INTEGER NOT NULL,
    question TEXT NOT NULL,
    reply TEXT NOT NULL,
    citations TEXT NOT NULL
)
"""


class FeedbackStore(SQLiteStore):
    """Append-only feedback records; safe to share between threads."""

    SCHEMA = _SCHEMA
    TABLES = ("feedback",)

    def add(self, question: str, reply: Reply, liked: bool, session: str = "") -> None:
        citations = json.dumps([asdict(c) for c in reply.citations], ensure_ascii=False)
        with self._db() as db:
            db.execute(
                "INSERT INTO feedback (at, session, rating, question, reply, citations) VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), session, 1 if liked else -1, question, reply.text, citations),
            )

    def redact(self, gone: Callable[[str], bool]) -> int:
        """Take the quotes of documents that are gone (``gone(doc_id)``) out of every rated reply."""
        if not self.path.exists():
            return 0
        changed = 0
        with self._db() as db:
            for row_id, reply, stored in db.execute("SELECT id, reply, citations FROM feedback").fetchall():
                citations = json.loads(stored)
                (reply,), hit = scrub([reply], citations, gone)
                if hit:
                    db.execute(
                        "UPDATE feedback SET reply = ?, citations = ? WHERE id = ?",
                        (reply, json.dumps(citations, ensure_ascii=False), row_id),
                    )
                    changed += 1
        return changed

    def records(self) -> Iterator[dict]:
        if not self.path.exists():
            return
        with self._db() as db:
            rows = db.execute(
                "SELECT at, session, rating, question, reply, citations FROM feedback ORDER BY id"
            ).fetchall()
        for at, session, rating, question, reply, citations in rows:
            yield {
                "at": at,
                "session": session,
                "rating": "up" if rating > 0 else "down",
                "question": question,
                "reply": reply,
                "citations": json.loads(citations),
            }

    def export(self, out: TextIO) -> int:
        """Write every record as one JSON line; returns how many.

        Line and paragraph separators (U+2028, U+2029, U+0085) stay escaped, so readers that
        split on them (Python's ``str.splitlines``, some editors) still see one record a line.
        """
        n = 0
        for record in self.records():
            line = json.dumps(record, ensure_ascii=False)
            out.write(line.translate(_SEPARATORS) + "\n")
            n += 1
        return n


_SEPARATORS = {ord(c): f"\\u{ord(c):04x}" for c in "\u2028\u2029\u0085"}
