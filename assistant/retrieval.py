"""Hybrid retrieval: dense (Chroma) + BM25, fused by reciprocal rank, with a relevance floor."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embeddings import Embedder
from .index import Index
from .types import Chunk, Passage

log = logging.getLogger(__name__)

RRF_K = 60
CANDIDATES = 20
# Passages this far below the floor are dropped even when BM25 ranks them high.
PASSAGE_MARGIN = 0.05
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# Playbook cards are written for situations: at most this many of a query's passages come from
# them, so the article that answers a question is not crowded out by cards that mention it.
PLAYBOOK = "playbook-"
MAX_CARDS = 2
# The common-questions articles (faq/) answer the question in their heading, whole (see
# Coaching._answered); their sentences are not mixed into other answers.
FAQ = "faq-"


@dataclass(frozen=True)
class Retrieval:
    """The passages for one query and whether the library covers it at all."""

    query: str
    passages: list[Passage]
    best_similarity: float
    in_scope: bool
    vector: Any = None


_WORD = re.compile(r"[A-Za-z][\w-]*")
# A capitalised name followed, within three words, by what names a model ("Belbin's team roles",
# "Eisenhower matrix"), or alone in brackets ("(Heifetz)").
_NAMED = re.compile(
    r"\b([A-Z][a-z][\w-]+|[A-Z]{3,6})(?:'s|’s)?(?:\s+[\w-]+){0,3}?\s+"
    r"(?:models?|theory|theories|hierarchy|framework|method|matrix|pyramid|principles?|laws?|styles?|approach|"
    r"cycle|grid|stages|needs|roles|window|curve|dysfunctions|canvas|ladder|triangle|quadrants?|wheel|"
    r"test|concept|idea)\b|\(([A-Z][a-z][\w-]+)\)"
)


class _Bm25:
    def __init__(self, chunks: list[Chunk], model: Any = None) -> None:
        import bm25s

        self.ids = [c.chunk_id for c in chunks]
        self.model = model if model is not None else bm25s.BM25()
        if chunks and model is None:
            tokens = bm25s.tokenize(
                [f"{c.title} {c.section} {c.text}" for c in chunks], stopwords="en", show_progress=False
            )
            self.model.index(tokens, show_progress=False)

    def search(self, query: str, n: int) -> list[str]:
        import bm25s

        words = [w for w in bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)[0]]
        vocab = self.model.vocab_dict or {}
        words = [w for w in words if w in vocab]
        if not words or not self.ids:
            return []
        docs, scores = self.model.retrieve([words], k=min(n, len(self.ids)), show_progress=False)
        return [self.ids[int(d)] for d, s in zip(docs[0], scores[0]) if s > 0]


class HybridRetriever:
    """Retrieve passages for a query.

    Args:
        index: the Chroma index.
        embedder: the same model the index was built with.
        top_k: passages returned.
        floor: cosine similarity the best passage needs for the query to be in scope.
    """

    def __init__(self, index: Index, embedder: Embedder, top_k: int, floor: float) -> None:
        self.index = index
        self.embedder = embedder
        self.top_k = top_k
        self.floor = floor
        self._lock = threading.Lock()
        self._chunks: dict[str, Chunk] = {}
        self._by_doc: dict[str, list[Chunk]] = {}
        self._questions: dict[tuple[str, str], list[Chunk]] = {}
        self._words: set[str] = set()
        self._bm25: _Bm25 | None = None

    def refresh(self, keep: Path | None = None) -> None:
        """Reload chunks from the index (after a sync). With ``keep``, a folder: load them, their
        BM25 index and their words from there when it holds what the index holds now (by the
        index's content key), and keep them there otherwise, for the next start."""
        key = self.index.content_key() if keep is not None else None
        kept = _load_kept(keep / key) if keep is not None and key else None
        if kept is not None:
            chunks, bm25, words = kept
        else:
            chunks = self.index.all_chunks()
            bm25 = _Bm25(chunks)
            words = sorted({w.lower() for c in chunks if not c.owner for w in _WORD.findall(f"{c.title} {c.text}")})
            if keep is not None and key:
                _keep(keep, key, chunks, bm25, words)
        names = set(words)
        by_doc: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_doc.setdefault(c.doc_id, []).append(c)
        questions: dict[tuple[str, str], list[Chunk]] = {}
        for c in sorted(chunks, key=lambda c: (c.doc_id, c.start)):
            if not c.owner and c.section.endswith("?") and c.section != c.title:
                questions.setdefault((c.doc_id, c.section), []).append(c)
        with self._lock:
            self._chunks = {c.chunk_id: c for c in chunks}
            self._by_doc = by_doc
            self._questions = questions
            self._words = names
            self._bm25 = bm25

    def chunks(self) -> list[Chunk]:
        """Every chunk in the index, the library's and everyone's uploads."""
        if self._bm25 is None:
            self.refresh()
        return list(self._chunks.values())

    def chunk_at(self, doc_id: str, start: int, end: int) -> Chunk | None:
        """The chunk of ``doc_id`` that holds the span [start, end) of its text."""
        if self._bm25 is None:
            self.refresh()
        with self._lock:
            chunks = self._by_doc.get(doc_id, [])
        return next((c for c in chunks if c.start <= start and end <= c.end), None)

    def unknown_names(self, text: str, owner: str = "") -> list[str]:
        """The names of models or authors ``text`` asks about ("Belbin's team roles", "the
        Eisenhower matrix", "(Heifetz)") that appear nowhere in the library or ``owner``'s uploads."""
        named = [m.group(1) or m.group(2) for m in _NAMED.finditer(text)]
        if not named:
            return []
        if self._bm25 is None:
            self.refresh()
        with self._lock:
            words = self._words
            mine = [c for c in self._chunks.values() if owner and c.owner == owner]
        theirs = {w.lower() for c in mine for w in _WORD.findall(c.text)}
        return list(dict.fromkeys(n for n in named if n.lower() not in words and n.lower() not in theirs))

    def question_sections(self) -> dict[tuple[str, str], list[Chunk]]:
        """The library's sections headed by a question ("## How do I delegate without losing
        control?"), by (document id, heading), each as its chunks in order. Uploads are left out."""
        if self._bm25 is None:
            self.refresh()
        with self._lock:
            return self._questions

    def section_text(self, chunk: Chunk) -> str:
        """The text of the whole section ``chunk`` is part of (a long section spans chunks)."""
        with self._lock:
            chunks = self._by_doc.get(chunk.doc_id, [chunk])
        return "\n".join(c.text for c in sorted(chunks, key=lambda c: c.start) if c.section == chunk.section)

    def retrieve(
        self, query: str, top_k: int | None = None, vector: np.ndarray | None = None, owner: str = ""
    ) -> Retrieval:
        """Passages for ``query`` from the library and ``owner``'s uploads.

        ``vector``, when given, is the query's embedding (saves a model call).
        """
        if self._bm25 is None:
            self.refresh()
        k = top_k or self.top_k
        vector = self.embedder.embed_one(query) if vector is None else vector
        dense = self.index.dense(vector, CANDIDATES, owner)
        # A chunk is as relevant as its best sentence: a one-line definition inside a
        # longer passage still surfaces.
        by_sentence = self.index.dense_sentences(vector, CANDIDATES, owner)
        with self._lock:
            chunks, bm25 = self._chunks, self._bm25
        assert bm25 is not None
        sparse = [cid for cid in bm25.search(query, 2 * CANDIDATES) if chunks[cid].owner in ("", owner)]
        similarity = dict(dense)
        for cid, sim in by_sentence:
            similarity[cid] = max(sim, similarity.get(cid, -1.0))
        missing = [cid for cid in sparse if cid not in similarity]
        for cid, vec in self.index.chunk_vectors(missing).items():
            similarity[cid] = float(np.dot(vec, vector))
        fused: dict[str, float] = {}
        for ranking in ([cid for cid, _ in dense], [cid for cid, _ in by_sentence], sparse):
            for rank, cid in enumerate(ranking):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        # Scope is judged on whole passages: single sentences match off-topic questions
        # too easily (a recipe question still finds some sentence about preparation).
        best = max((sim for _, sim in dense), default=0.0)
        in_scope = best >= self.floor
        passages: list[Passage] = []
        cards = 0
        if in_scope:
            for cid in sorted(fused, key=fused.get, reverse=True):
                if cid in chunks and chunks[cid].doc_id.startswith(FAQ):
                    continue
                if cid in chunks and similarity.get(cid, 0.0) >= self.floor - PASSAGE_MARGIN:
                    card = chunks[cid].doc_id.startswith(PLAYBOOK)
                    if card and cards == MAX_CARDS:
                        continue
                    cards += card
                    passages.append(Passage(chunks[cid], fused[cid], similarity[cid]))
                if len(passages) == k:
                    break
        return Retrieval(query, passages, best, in_scope, vector)


_FIELDS = ("chunk_id", "doc_id", "title", "section", "text", "start", "end", "doc_hash", "owner")


def _keep(folder: Path, key: str, chunks: list[Chunk], bm25: _Bm25, words: list[str]) -> None:
    """Write the chunks, BM25 index and words under ``folder/key`` (atomically: a folder renamed
    into place), and drop what was kept for other contents."""
    import json
    import shutil
    import tempfile

    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".writing-"))
    try:
        rows = [[getattr(c, f) for f in _FIELDS] for c in chunks]
        (staging / "chunks.json").write_text(json.dumps({"chunks": rows, "words": words}, ensure_ascii=False))
        if chunks:
            bm25.model.save(str(staging / "bm25"), show_progress=False)
        for old in folder.iterdir():
            if old != staging:
                shutil.rmtree(old, ignore_errors=True)
        staging.rename(folder / key)
    except OSError as exc:  # a read-only or full disk costs the next start time, nothing else
        log.warning("the retriever could not be kept in %s (%s)", folder, exc)
        shutil.rmtree(staging, ignore_errors=True)


def _load_kept(folder: Path) -> tuple[list[Chunk], _Bm25, list[str]] | None:
    import json

    import bm25s

    try:
        kept = json.loads((folder / "chunks.json").read_text())
        chunks = [Chunk(**dict(zip(_FIELDS, row))) for row in kept["chunks"]]
        model = bm25s.BM25.load(str(folder / "bm25"), show_progress=False) if chunks else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if folder.exists():
            log.warning("the kept retriever in %s could not be read (%s); building it again", folder, exc)
        return None
    return chunks, _Bm25(chunks, model), kept["words"]


def as_langchain_retriever(retriever: HybridRetriever) -> Any:
    """The hybrid retriever as a LangChain ``BaseRetriever`` (documents carry chunk metadata)."""
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document as LCDocument
    from langchain_core.retrievers import BaseRetriever

    class LibraryRetriever(BaseRetriever):
        """Hybrid dense + BM25 retrieval over the coaching library."""

        hybrid: Any

        def _get_relevant_documents(
            self, query: str, *, run_manager: CallbackManagerForRetrieverRun
        ) -> list[LCDocument]:
            result = self.hybrid.retrieve(query)
            return [
                LCDocument(
                    page_content=p.chunk.text,
                    id=p.chunk.chunk_id,
                    metadata={
                        "doc_id": p.chunk.doc_id,
                        "title": p.chunk.title,
                        "section": p.chunk.section,
                        "start": p.chunk.start,
                        "end": p.chunk.end,
                        "score": p.score,
                        "similarity": p.similarity,
                    },
                )
                for p in result.passages
            ]

    return LibraryRetriever(hybrid=retriever)
