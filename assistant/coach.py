"""The Coach facade: wires the stages (library, reader, coaching, backend); no policy of its own."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from .answer import make_backend
from .answer.context import Context
from .coaching import Coaching
from .corpus import remove_folder
from .diagnosis import Diagnoser
from .embeddings import Embedder
from .feedback import FeedbackStore
from .index import Index, SyncReport
from .library import Library, upload_prefix
from .memory import MemoryStore
from .retrieval import HybridRetriever, as_langchain_retriever
from .session import Session
from .settings import Settings
from .types import Diagnosis, Document, Passage, Reply
from .understanding import Reader

# Control characters, lone surrogates, and invisible format characters (bidi overrides,
# zero-width spaces) that change how text reads without being text.
# Terminal escape sequences, whole (a title-setting "ESC ] 0;text BEL", a colour "ESC [ 31m").
_ESCAPES = re.compile(r"\x1b\][^\x07\x1b]{0,200}(?:\x07|\x1b\\)?|\x1b\[[0-9;?]{0,20}[A-Za-z]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def clean_message(text: object, limit: int) -> tuple[str, list[str]]:
    """Strip control characters and lone surrogates; cut to ``limit`` characters.

    Raises ValueError for a message with nothing in it.
    """
    if not isinstance(text, str):
        raise TypeError(f"a message must be text (str), got {type(text).__name__}")
    text = _CONTROL.sub(" ", _ESCAPES.sub(" ", text)).strip()
    if not text:
        raise ValueError("The message is empty: ask a question or describe a situation from your week.")
    notes = []
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] or text[:limit]
        notes.append(f"Your message was long, so I answered from its first {limit:,} characters.")
    return text, notes


class Coach:
    """A leadership coach over a library of documents.

    Args:
        settings: where the corpus and index live and how to answer; defaults to
            ``Settings.from_env()``.

    Example:
        >>> coach = Coach()
        >>> reply = coach.ask("What do managers focus on?")
        >>> reply.citations[0].title
        'Management vs leadership: what is the difference?'
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.backend = make_backend(self.settings)
        self.embedder = Embedder()
        self.library = Library(self.settings, self.embedder)
        self._lock = threading.Lock()

    # ---- the library ----------------------------------------------------------------------
    @property
    def index(self) -> Index:
        """The Chroma index, opened and synced with the corpus on first use."""
        return self.library.index

    @property
    def retriever(self) -> HybridRetriever:
        return self.library.retriever

    @property
    def problems(self) -> list[str]:
        """Files the last ingest skipped, and why."""
        return self.library.problems

    def sources(self) -> list[Path]:
        """The corpus folder plus the folders added with ``ingest(path)``."""
        return self.library.sources()

    def ingest(
        self, path: str | Path | None = None, progress: bool | None = None, remove: bool | None = None
    ) -> SyncReport:
        """Sync the index with the corpus; with ``path``, add that folder or file to it first.

        Documents the index has and the corpus lacks are removed, unless ``remove`` is False; by
        default not when the Coach shares a database (ASSISTANT_DATABASE_URL) with other app
        processes, so that none removes what another ingested (``python -m assistant ingest``,
        the one place to ingest from, passes True).

        Returns a SyncReport of what was added, updated, removed and left unchanged.
        """
        return self.library.ingest(path, progress, remove)

    def add_upload(self, path: str | Path, owner: str, progress: Any = None) -> Document:
        """Index one file for ``owner`` only; nobody else's answers will cite it.

        Raises ValueError (naming the file) when it is too big, of another type or
        unreadable; nothing already indexed changes then.
        """
        return self.library.add_upload(path, owner, progress)

    def uploads(self, owner: str) -> list[Document]:
        """The documents ``owner`` has added, with ids of their own."""
        return self.library.uploads(owner)

    def remove_upload(self, doc_id: str, owner: str) -> None:
        """Drop one of ``owner``'s documents from the index and the disk."""
        self.library.remove_upload(doc_id, owner)
        self._redact(lambda gone: gone == doc_id)

    def forget(self, owner: str) -> None:
        """Drop every document ``owner`` added (when their session ends), and their quotes from
        stored conversations and feedback."""
        if self.library.forget(owner):
            prefix = upload_prefix(owner)
            self._redact(lambda gone: gone.startswith(prefix))

    def _redact(self, gone: Callable[[str], bool]) -> int:
        """Take the quotes of documents that are gone out of memory and feedback."""
        return self.memory.redact(gone) + self.feedback.redact(gone)

    def as_retriever(self) -> Any:
        """The hybrid retriever as a LangChain ``BaseRetriever``."""
        return as_langchain_retriever(self.retriever)

    def search(self, query: str, top_k: int | None = None, owner: str = "") -> list[Passage]:
        """The library's passages for ``query``, best first (none when the library does not cover it)."""
        self.library.catch_up()
        return self.retriever.retrieve(query, top_k=top_k, owner=owner).passages

    # ---- memory ---------------------------------------------------------------------------
    def session(self, session_id: str) -> Session:
        """A remembered conversation: its history, commitments and summary survive restarts.

        Example:
            >>> Coach().session("sam").ask("This week I will let Priya run the stand-up.")
        """
        return Session(self, session_id, self.memory)

    # One store of each per Coach, so that their locks are shared by every thread using it.
    @cached_property
    def memory(self) -> MemoryStore:
        """Every session's turns and commitments, in the data dir or the shared database."""
        return MemoryStore(self.settings.data_dir / "memory.sqlite3", self.settings.database_url)

    @cached_property
    def feedback(self) -> FeedbackStore:
        """Thumbs up or down on replies, in the data dir or the shared database."""
        return FeedbackStore(self.settings.data_dir / "feedback.sqlite3", self.settings.database_url)

    def clean_up(self, now: float | None = None) -> dict[str, int]:
        """Apply the retention policy (run at start): every upload goes, since a restart ends every
        session (with a shared database, where other processes still serve theirs, those older
        than ``settings.retention_days``); exports of the page go; conversations, commitments and
        feedback older than ``settings.retention_days`` go. Returns what was removed, by kind."""
        now = time.time() if now is None else now
        days = self.settings.retention_days
        before = now - days * 86400 if days else float("-inf")
        removed = {"uploads": self.library.clear_uploads(before)}
        # Quotes of uploads that are gone: all of them, or, when other processes share the
        # database, those of people who have none left.
        live = tuple(upload_prefix(o) for o in self.library.store.owners()) if self.library.store.shared else ()
        removed["quotes of uploads"] = self._redact(
            lambda gone: gone.startswith(upload_prefix()) and not gone.startswith(live)
        )
        removed["exports"] = remove_folder(self.settings.data_dir / "exports")
        removed["memory"] = self.memory.prune(before)
        removed["feedback"] = self.feedback.prune(before)
        return removed

    # ---- the stages -----------------------------------------------------------------------
    @cached_property
    def reader(self) -> Reader:
        """Reads what a message is: its intent, and whether it signals risk."""
        return Reader(self.embedder)

    @cached_property
    def diagnoser(self) -> Diagnoser:
        return Diagnoser(self.embedder)

    @cached_property
    def coaching(self) -> Coaching:
        return Coaching(self.settings, self.library, self.embedder, self.diagnoser)

    # ---- answering ------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        history: list[dict] | None = None,
        *,
        owner: str = "",
        top_k: int | None = None,
        diagnose: bool | None = None,
    ) -> Reply:
        """Answer a question or coach on a situation, with citations.

        Args:
            question: the person's message.
            history: earlier turns as ``{"role", "content"}`` dicts (Gradio's messages format).
            owner: whose uploaded documents may be cited besides the library.
            top_k: passages to draw on (default: the settings').
            diagnose: tell managing from leading for a situation (default: the settings').

        Returns:
            A Reply whose text carries [n] markers, each mapped to ``reply.citations``, and
            whose ``intent`` says how the message was read.

        Raises:
            ValueError: the message is empty or only whitespace.
        """
        context = self._context(question, history, owner, top_k, diagnose)
        if isinstance(context, Reply):
            return context
        return self.backend.compose(context)

    def stream(
        self,
        question: str,
        history: list[dict] | None = None,
        *,
        owner: str = "",
        top_k: int | None = None,
        diagnose: bool | None = None,
    ) -> Iterator[Reply]:
        """Like ``ask``, yielding partial Replies (``partial=True``) and then the final one."""
        context = self._context(question, history, owner, top_k, diagnose)
        if isinstance(context, Reply):
            yield context
            return
        yield from self.backend.stream(context)

    def diagnose(self, text: str) -> Diagnosis | None:
        """Whether ``text`` leans to managing or leading, facet by facet; None if it is no situation.

        A commitment ("I'll stop checking every timesheet") is read by the behaviour it moves to.

        Example:
            >>> Coach().diagnose("I approved every expense claim and checked all timesheets.").lean
            'management'
        """
        text, _ = clean_message(text, self.settings.max_question_chars)
        read = self.reader.read(text)
        if read.intent not in ("situation", "commitment"):
            return None
        commitment = read.intent == "commitment"
        return self.diagnoser.diagnose(text, read.vector, layers=read.layers, commitment=commitment, force=True)

    def _context(
        self, question: str, history: list[dict] | None, owner: str, top_k: int | None, diagnose: bool | None
    ) -> Context | Reply:
        text, notes = clean_message(question, self.settings.max_question_chars)
        self.library.catch_up()
        history = list(history or [])
        read = self.reader.read(text, history)
        return self.coaching.plan(text, read, history, notes, owner=owner, top_k=top_k, diagnose=diagnose)
