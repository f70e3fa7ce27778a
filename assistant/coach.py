"""The Coach facade: ask, stream and ingest over one index."""

from __future__ import annotations

import json
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .answer import make_backend
from .answer.context import Context, Slot
from .corpus import CorpusError, load_corpus, save_upload, slug
from .diagnosis import FACET_DESCRIPTIONS, Diagnoser
from .embeddings import Embedder
from .feedback import FeedbackStore
from .index import Index, SyncReport
from .memory import MemoryStore
from .questions import COUNTERPART, GOAL_QUESTION, OPTIONS_QUESTION, QUESTIONS, TOWARD, WAY_FORWARD_QUESTION
from .retrieval import HybridRetriever, as_langchain_retriever
from .session import Session, find_commitment
from .settings import Settings
from .types import Diagnosis, Document, Reply

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_REFERRING = re.compile(
    r"\b(it|that|this|those|these|there|he|she|they|him|her|them|his|their|instead|more|else|example)\b", re.I
)

# How many earlier user turns a follow-up carries into its query.
CONDENSE_WINDOW = 2

# A situation that also asks a question the library answers this well gets that answer too.
STRONG_MATCH = 0.55

# Messages that signal distress or risk: the coach steps out of coaching for these.
_DISTRESS = re.compile(
    r"\b(kill(?:ing)? myself|suicid\w*|end(?:ing)? (?:it all|my life)|self[- ]?harm\w*|hurt(?:ing)? myself|"
    r"(?:don'?t|do not) want to (?:live|be here)|no reason to live|"
    r"harass\w*|sexual(?:ly)? assault\w*|assaulted|abus(?:ed|ive|ing) me|bull(?:ied|ying) me|threaten\w* me|"
    r"stalk(?:ed|ing) me|medical emergency|legal emergency|chest pains?|can'?t breathe|overdos\w*|heart attack|"
    r"been arrested|being sued|suing me)\b",
    re.I,
)
_OPTIONS = re.compile(
    r"\b(what (?:could|can|should) i do|how (?:do|can|could|should) i|instead|options?|what else)\b", re.I
)
_GOAL = re.compile(r"\b(i want to|i'd like to|i would like to|my goal|i wish i could)\b", re.I)

SAFETY = (
    "It sounds like you may be dealing with something serious, and I'm not the right help for it. "
    "I'm a coaching tool for managing and leading, not a counsellor, doctor or lawyer, so I won't try to "
    "diagnose this or advise on it.\n\n"
    "- If you or someone else is in danger right now, call your local emergency number.\n"
    "- If you are thinking about harming yourself, please contact a crisis line or someone you trust today.\n"
    "- For harassment, bullying or abuse at work, talk to HR, a manager you trust, your union or an employee "
    "assistance programme.\n"
    "- For a legal or medical problem, please see a qualified lawyer, advice service or doctor.\n\n"
    "I'm here for the leadership side whenever you want to come back to it."
)

OUT_OF_SCOPE = (
    "I couldn't find anything about that in the leadership library, so I won't guess at an answer. "
    "I can help you think through managing and leading: planning, organizing and controlling work; "
    "setting direction and vision; motivating, inspiring and empowering people; delegation, feedback, "
    "one-to-ones and coaching. Try describing a situation from your week, or ask about one of those."
)


def clean_message(text: object, limit: int) -> tuple[str, list[str]]:
    """Strip control characters and lone surrogates; cut to ``limit`` characters.

    Raises ValueError for a message with nothing in it.
    """
    if not isinstance(text, str):
        raise TypeError(f"a message must be text (str), got {type(text).__name__}")
    text = _CONTROL.sub(" ", text).strip()
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
        self._index: Index | None = None
        self._retriever: HybridRetriever | None = None
        self._question_vectors: np.ndarray | None = None
        self.problems: list[str] = []
        self._diagnoser: Diagnoser | None = None
        self._facet_cache: dict[str, np.ndarray] | None = None
        self._lock = threading.RLock()
        self._synced = False

    # ---- index ------------------------------------------------------------------------
    @property
    def index(self) -> Index:
        """The Chroma index, opened and synced with the corpus on first use."""
        if self._index is not None and self._synced:
            return self._index
        with self._lock:
            if self._index is None:
                self.ingest(progress=False)
            assert self._index is not None
            return self._index

    @property
    def retriever(self) -> HybridRetriever:
        _ = self.index  # opens and syncs on first use
        assert self._retriever is not None
        return self._retriever

    def sources(self) -> list[Path]:
        """The corpus folder plus the folders added with ``ingest(path)``."""
        extra = self._sources_file()
        added = json.loads(extra.read_text()) if extra.exists() else []
        return [self.settings.corpus_dir, *(Path(p) for p in added)]

    def ingest(self, path: str | Path | None = None, progress: bool | None = None) -> SyncReport:
        """Sync the index with the corpus; with ``path``, add that folder or file to it first.

        Returns a SyncReport of what was added, updated, removed and left unchanged.
        """
        with self._lock:
            if self._index is None:
                self._index = Index(self.settings, self.embedder)
                self._retriever = HybridRetriever(
                    self._index, self.embedder, self.settings.top_k, self.settings.relevance_floor
                )
            if path is not None:
                self._add_source(Path(path))
            docs, problems = [], []
            seen: set[str] = set()
            for source in self.sources():
                if not source.exists():
                    problems.append(f"skipped {source}: not found")
                    continue
                found, skipped = load_corpus(source)
                problems += skipped
                for doc in found:
                    if doc.doc_id in seen:
                        problems.append(f"skipped {Path(doc.path).name}: id {doc.doc_id!r} is already in the library")
                        continue
                    seen.add(doc.doc_id)
                    docs.append(doc)
            assert self._index is not None and self._retriever is not None
            report = self._index.sync(docs, progress=progress)
            self._retriever.refresh()
            self._synced = True
            self.problems = problems
            return report

    def _sources_file(self) -> Path:
        return self.settings.data_dir / "sources.json"

    def _add_source(self, path: Path) -> None:
        path = path.resolve()
        if not path.exists():
            raise FileNotFoundError(f"nothing to ingest at {path}")
        current = [str(p) for p in self.sources()[1:]]
        if str(path) not in current and path != self.settings.corpus_dir.resolve():
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._sources_file().write_text(json.dumps([*current, str(path)], indent=2))

    def as_retriever(self) -> Any:
        """The hybrid retriever as a LangChain ``BaseRetriever``."""
        return as_langchain_retriever(self.retriever)

    def session(self, session_id: str) -> Session:
        """A remembered conversation: its history, commitments and summary survive restarts.

        Example:
            >>> Coach().session("sam").ask("This week I will let Priya run the stand-up.")
        """
        return Session(self, session_id, self.memory)

    # One store of each per Coach, so that their locks are shared by every thread using it.
    @cached_property
    def memory(self) -> MemoryStore:
        """Every session's turns and commitments, stored in the data dir."""
        return MemoryStore(self.settings.data_dir / "memory.sqlite3")

    @cached_property
    def feedback(self) -> FeedbackStore:
        """Thumbs up or down on replies, stored in the data dir."""
        return FeedbackStore(self.settings.data_dir / "feedback.sqlite3")

    # ---- a person's own documents --------------------------------------------------------
    def add_upload(self, path: str | Path, owner: str, progress: Any = None) -> Document:
        """Index one file for ``owner`` only; nobody else's answers will cite it.

        Raises ValueError (naming the file) when it is too big, of another type or
        unreadable; nothing already indexed changes then.
        """
        if not owner:
            raise ValueError("an upload needs an owner (a session or user id)")
        _ = self.index
        try:
            saved = save_upload(Path(path), self._uploads_dir(owner))
        except CorpusError as exc:
            raise ValueError(str(exc)) from None
        self._sync_uploads(owner, progress)
        return next(d for d in self.uploads(owner) if d.path == str(saved))

    def uploads(self, owner: str) -> list[Document]:
        """The documents ``owner`` has added, with ids of their own."""
        folder = self._uploads_dir(owner)
        docs, _ = load_corpus(folder) if folder.exists() else ([], [])
        return [replace(d, doc_id=f"upload-{slug(owner)[:16]}-{slug(Path(d.path).stem)}") for d in docs]

    def remove_upload(self, doc_id: str, owner: str) -> None:
        """Drop one of ``owner``'s documents from the index and the disk."""
        for doc in self.uploads(owner):
            if doc.doc_id == doc_id:
                Path(doc.path).unlink(missing_ok=True)
        self._sync_uploads(owner)

    def forget(self, owner: str) -> None:
        """Drop every document ``owner`` added (when their session ends)."""
        shutil.rmtree(self._uploads_dir(owner), ignore_errors=True)
        if self._index is not None:
            self._sync_uploads(owner)

    def _uploads_dir(self, owner: str) -> Path:
        return self.settings.data_dir / "uploads" / slug(owner)

    def _sync_uploads(self, owner: str, progress: Any = None) -> None:
        with self._lock:
            self.index.sync(self.uploads(owner), progress=progress, owner=owner)
            self.retriever.refresh()

    # ---- answering --------------------------------------------------------------------
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
            A Reply whose text carries [n] markers, each mapped to ``reply.citations``.

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

        Example:
            >>> Coach().diagnose("I approved every expense claim and checked all timesheets.").lean
            'management'
        """
        text, _ = clean_message(text, self.settings.max_question_chars)
        return self.diagnoser.diagnose(text)

    @property
    def diagnoser(self) -> Diagnoser:
        with self._lock:
            if self._diagnoser is None:
                self._diagnoser = Diagnoser(self.embedder)
            return self._diagnoser

    def _context(
        self, question: str, history: list[dict] | None, owner: str, top_k: int | None, diagnose: bool | None
    ) -> Context | Reply:
        text, notes = clean_message(question, self.settings.max_question_chars)
        if _DISTRESS.search(text):
            return Reply(SAFETY, [], False, query=text, notes=notes, safety=True)
        history = list(history or [])
        query = condense(text, history)
        found = self.retriever.retrieve(query, top_k=top_k, owner=owner)
        vector = found.vector if query == text else self.embedder.embed_one(text)
        wanted = self.settings.diagnose if diagnose is None else diagnose
        diagnosis = self.diagnoser.diagnose(text, vector) if wanted else None
        commitment = find_commitment(text)
        if commitment:
            notes = [f"Noted your commitment: “{commitment}”.", *notes]
        if diagnosis is None and not (found.in_scope and found.passages):
            if commitment:  # a plan needs no library: name it and look for the way forward
                return Reply(f"{notes[0]}\n\n**A question for you:** {WAY_FORWARD_QUESTION}", [], True, query=query)
            return Reply(OUT_OF_SCOPE, [], False, query=query, notes=notes)
        if diagnosis is None:
            slots = [Slot("", found.passages, found.vector, quotes=3)]
            ask_next = self._pick_question(found.vector, history)
        else:
            slots, lacking = self._situation_slots(diagnosis, vector, owner)
            if found.best_similarity >= STRONG_MATCH and text.rstrip().endswith("?"):
                slots.insert(0, Slot("", found.passages, found.vector, quotes=1))
            ask_next = TOWARD[lacking]
        ask_next = grow_question(text, diagnosis is not None) or ask_next
        slots = [slot for slot in slots if slot.passages]
        if not slots:
            return Reply(OUT_OF_SCOPE, [], False, query=query, notes=notes)
        chunk_ids = {p.chunk.chunk_id for slot in slots for p in slot.passages}
        return Context(
            question=text,
            query=query,
            slots=slots,
            sentences=self.index.sentences_of(chunk_ids),
            history=history,
            diagnosis=diagnosis,
            notes=notes,
            coaching_question=ask_next,
        )

    def _situation_slots(self, diagnosis: Diagnosis, vector: np.ndarray, owner: str) -> tuple[list[Slot], str]:
        """Passages on the top facets, on managing well, and on what the situation lacks."""
        facet_vectors = self._facet_vectors()
        drivers = diagnosis.drivers()
        managing = next(f.name for f in diagnosis.facets if f.side == "management")
        lacking = COUNTERPART[drivers[0].name]
        wanted = [(f"{f.name.capitalize()}: ", f.name) for f in drivers]
        wanted += [("Managing well here: ", f"well:{managing}"), (f"Toward {lacking}: ", lacking)]
        slots = []
        for label, key in wanted:
            facet_vector = facet_vectors[key]
            found = self.retriever.retrieve(key, top_k=2, vector=facet_vector, owner=owner)
            aim = facet_vector + vector
            slots.append(Slot(label, found.passages if found.in_scope else [], aim / np.linalg.norm(aim)))
        return slots, lacking

    def _facet_vectors(self) -> dict[str, np.ndarray]:
        if self._facet_cache is None:
            keys = list(FACET_DESCRIPTIONS) + [f"well:{f}" for f in FACET_DESCRIPTIONS]
            texts = list(FACET_DESCRIPTIONS.values()) + [
                f"When {f} is the right move and done well: {d}" for f, d in FACET_DESCRIPTIONS.items()
            ]
            self._facet_cache = dict(zip(keys, self.embedder.embed(texts)))
        return self._facet_cache

    def _pick_question(self, vector: np.ndarray, history: list[dict]) -> str:
        if self._question_vectors is None:
            self._question_vectors = self.embedder.embed([q for _, q in QUESTIONS])
        asked = " ".join(str(m.get("content", "")) for m in history if m.get("role") == "assistant")
        order = np.argsort(-(self._question_vectors @ vector))
        for i in order:
            if QUESTIONS[i][1] not in asked:
                return QUESTIONS[i][1]
        return QUESTIONS[int(order[0])][1]


def grow_question(message: str, diagnosed: bool) -> str | None:
    """The GROW stage's question: a commitment looks for the way forward, a request for
    ideas weighs the options, a wish names the goal. None leaves the reality question."""
    if find_commitment(message):
        return WAY_FORWARD_QUESTION
    if diagnosed:
        return None
    if _OPTIONS.search(message):
        return OPTIONS_QUESTION
    if _GOAL.search(message):
        return GOAL_QUESTION
    return None


def condense(question: str, history: list[dict], window: int = CONDENSE_WINDOW) -> str:
    """A standalone query: a short or referring follow-up carries the recent user turns with it.

    "and how would I lead more there?" after two turns about planning becomes those two
    turns plus itself, so retrieval stays on the topic under discussion.
    """
    previous = [str(m.get("content", "")) for m in history if m.get("role") == "user" and m.get("content")]
    if not previous or (len(question.split()) > 12 and not _REFERRING.search(question)):
        return question
    return " ".join([*previous[-window:], question])
