"""A SQLite file in the data dir, shared by threads: the base of the feedback and memory stores."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class SQLiteStore:
    """One SQLite file whose ``SCHEMA`` (CREATE ... IF NOT EXISTS statements) is made on first use."""

    SCHEMA = ""
    TABLES: tuple[str, ...] = ()  # tables with an ``at`` time, pruned by the retention policy

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def prune(self, before: float) -> int:
        """Delete the rows of every table in TABLES stored before ``before`` (a Unix time); how many."""
        if not self.path.exists():
            return 0
        with self._db() as db:
            return sum(db.execute(f"DELETE FROM {table} WHERE at < ?", (before,)).rowcount for table in self.TABLES)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection, one thread at a time; committed when the block ends well, then closed."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
            try:
                db.executescript(self.SCHEMA)
                with db:
                    yield db
            finally:
                db.close()


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
                texts = [text.replace(quoted, REMOVED) for text in texts]
        citation.update(title=REMOVED, section="", text="", quote="", quote_start=0, quote_end=0)
        changed = True
    return texts, changed
