"""Conversations and commitments that outlast the process (see store.py for where they live)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from sqlalchemy import insert, select, update

from .store import Store, commitments, scrub, turns
from .types import Reply


@dataclass(frozen=True)
class Commitment:
    """Something the person said they will do."""

    text: str
    at: float


class MemoryStore(Store):
    """Turns and commitments keyed by a session (or user) id."""

    TABLES = (turns, commitments)

    def add_turn(self, session: str, role: str, content: str, reply: Reply | None = None) -> None:
        stored = json.dumps(asdict(reply), ensure_ascii=False) if reply is not None else None
        with self.db() as db:
            db.execute(insert(turns).values(session=session, at=time.time(), role=role, content=content, reply=stored))

    def turns(self, session: str) -> list[dict]:
        """The turns in order: {"role", "content", "reply"} (reply: the stored Reply as a dict)."""
        if self.missing():
            return []
        query = select(turns.c.role, turns.c.content, turns.c.reply).where(turns.c.session == session)
        with self.db() as db:
            rows = db.execute(query.order_by(turns.c.id)).all()
        return [{"role": r, "content": c, "reply": json.loads(p) if p else None} for r, c, p in rows]

    def add_commitment(self, session: str, text: str) -> None:
        with self.db() as db:
            db.execute(insert(commitments).values(session=session, at=time.time(), text=text))

    def commitments(self, session: str) -> list[Commitment]:
        if self.missing():
            return []
        query = select(commitments.c.text, commitments.c.at).where(commitments.c.session == session)
        with self.db() as db:
            return [Commitment(text, at) for text, at in db.execute(query.order_by(commitments.c.id)).all()]

    def redact(self, gone: Callable[[str], bool]) -> int:
        """Take the quotes of documents that are gone (``gone(doc_id)``: a person's removed
        uploads) out of every stored reply. Returns how many replies changed."""
        if self.missing():
            return 0
        changed = 0
        with self.db() as db:
            rows = db.execute(select(turns.c.id, turns.c.content, turns.c.reply).where(turns.c.reply.is_not(None)))
            for row_id, content, stored in rows.all():
                reply = json.loads(stored)
                texts = [content, reply.get("text", "")]
                (content, reply["text"]), hit = scrub(texts, reply.get("citations", []), gone)
                if hit:
                    stored = json.dumps(reply, ensure_ascii=False)
                    db.execute(update(turns).where(turns.c.id == row_id).values(content=content, reply=stored))
                    changed += 1
        return changed
