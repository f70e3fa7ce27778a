"""Thumbs up or down on replies (see store.py for where they live)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import TextIO

from sqlalchemy import insert, select, update

from .store import Store, feedback, scrub
from .types import Reply


class FeedbackStore(Store):
    """Append-only feedback records; safe to share between threads."""

    TABLES = (feedback,)

    def add(self, question: str, reply: Reply, liked: bool, session: str = "") -> None:
        citations = json.dumps([asdict(c) for c in reply.citations], ensure_ascii=False)
        row = dict(session=session, rating=1 if liked else -1, question=question, reply=reply.text, citations=citations)
        with self.db() as db:
            db.execute(insert(feedback).values(at=time.time(), **row))

    def redact(self, gone: Callable[[str], bool]) -> int:
        """Take the quotes of documents that are gone (``gone(doc_id)``) out of every rated reply."""
        if self.missing():
            return 0
        changed = 0
        with self.db() as db:
            for row_id, reply, stored in db.execute(
                select(feedback.c.id, feedback.c.reply, feedback.c.citations)
            ).all():
                citations = json.loads(stored)
                (reply,), hit = scrub([reply], citations, gone)
                if hit:
                    stored = json.dumps(citations, ensure_ascii=False)
                    db.execute(update(feedback).where(feedback.c.id == row_id).values(reply=reply, citations=stored))
                    changed += 1
        return changed

    def records(self) -> Iterator[dict]:
        if self.missing():
            return
        columns = (feedback.c[name] for name in ("at", "session", "rating", "question", "reply", "citations"))
        with self.db() as db:
            rows = db.execute(select(*columns).order_by(feedback.c.id)).all()
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
