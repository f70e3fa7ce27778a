"""The coaching playbook: situation cards read from the corpus, matched to what a person describes.

A card (corpus/playbook/*.md) says what is going on through the ten focus areas, gives 3-5
options with why each helps and the article it comes from, what to watch out for, and
coaching questions. Cards are indexed and cited like any document; this module reads their
structure, with each line's place in the document so that a quote can be cited.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunking import sentence_spans
from .embeddings import Embedder
from .types import Document

MODEL_FILE = Path(__file__).resolve().parent / "models" / "playbook.npz"
# The trained matcher's log-probabilities are moved by how near the message is to each card's
# descriptions (its title with its summary, plus the nearest of title/summary and examples), times
# this: on situations never trained on, the right card rose from 0.368 to 0.407 (blind) and 0.471
# to 0.481 (free), and 0.818 -> 0.812 on the test stories (python -m eval.train_playbook).
SIMILAR_WEIGHT = 2.5
# MiniLM's top layers fine-tuned with a card head (python -m eval.train_playbook) are averaged in
# at this weight: on situations never trained on, the right card rose from 0.407 to 0.440 (blind)
# and 0.481 to 0.545 (free); 0.5 and 1.5 did no better on both.
TUNED_FILE = MODEL_FILE.with_name("matcher.safetensors")
TUNED_WEIGHT = 1.0
_SECTION = re.compile(r"^##[ \t]+([^\n]{1,80})$", re.M)
_BULLET = re.compile(r"^[ \t]*-[ \t]+([^\n]*)$", re.M)
_SOURCE = re.compile(r"\(From: ([\w-]{1,80})\)")


@dataclass(frozen=True)
class Line:
    """A quotable piece of a card and its place in the card's document text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Option:
    """One thing to try: the action, why it helps, and the library article it comes from."""

    action: Line
    why: Line | None
    source: str

    @property
    def line(self) -> Line:
        """Action and why together, as one quote."""
        end = self.why or self.action
        return Line(f"{self.action.text} {self.why.text}" if self.why else self.action.text, self.action.start, end.end)


@dataclass(frozen=True)
class Card:
    doc_id: str
    title: str
    summary: str
    facets: list[str]
    lacking: str
    examples: list[str]
    reading: list[Line]
    options: list[Option]
    watch: list[Line]
    questions: list[str]
    words: list[Line] = field(default_factory=list)


def _sentences(text: str, start: int, end: int) -> list[Line]:
    return [Line(" ".join(text[a:b].split()), a, b) for a, b in sentence_spans(text, start, end)]


def read_card(doc: Document) -> Card | None:
    """A Card from a playbook document; None when it lacks the options or questions a card needs."""
    text = doc.text
    heads = list(_SECTION.finditer(text))
    sections: dict[str, tuple[int, int]] = {}
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        sections[head.group(1).strip().lower()] = (head.end(), end)

    def bullets(name: str) -> list[tuple[int, int]]:
        a, b = sections.get(name, (0, 0))
        return [(a + m.start(1), a + m.end(1)) for m in _BULLET.finditer(text[a:b])]

    options = []
    for a, b in bullets("options"):
        source = _SOURCE.search(text, a, b)
        parts = _sentences(text, a, source.start() if source else b)
        if parts:
            options.append(Option(parts[0], parts[1] if len(parts) > 1 else None, source.group(1) if source else ""))
    questions = [" ".join(text[a:b].split()) for a, b in bullets("questions to ask yourself")]
    watch = [line for a, b in bullets("watch out for") for line in _sentences(text, a, b)[:1]]
    reading = _sentences(text, *sections.get("what is going on", (0, 0)))
    words = [Line(" ".join(text[a:b].split()), a, b) for a, b in bullets("words you could use")]
    if not options or not questions:
        return None
    meta = doc.metadata
    return Card(
        doc_id=doc.doc_id,
        title=doc.title,
        summary=str(meta.get("summary", "")),
        facets=[str(f) for f in meta.get("facets") or []],
        lacking=str(meta.get("lacking", "")),
        examples=[str(e) for e in meta.get("examples") or []],
        reading=reading,
        options=options,
        watch=watch,
        questions=questions,
        words=words,
    )


@dataclass(frozen=True)
class Match:
    """A card and how sure the match is (a probability from the matcher, or a cosine without it)."""

    card: Card
    score: float


@dataclass
class Playbook:
    """The cards, and the nearest card to a described situation.

    With a trained matcher (``python -m eval.train_playbook``) that knows every card, the match
    is its probability over MiniLM's pooled layers of the message. Otherwise (a library with
    cards of its own) a card is as near as the nearest of its descriptions: its title with its
    summary, and each of its examples, embedded on first use.
    """

    documents: list[Document]
    embedder: Embedder
    cards: list[Card] = field(init=False)
    _vectors: np.ndarray | None = field(default=None, init=False, repr=False)
    _owners: np.ndarray | None = field(default=None, init=False, repr=False)
    _lines: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.cards = [c for c in (read_card(d) for d in self.documents) if c is not None]
        ids = tuple(c.doc_id for c in self.cards)
        self._model = _load_matcher(MODEL_FILE, ids)
        # The tuned head's logits are taken in the regression's order of cards.
        self._tuned = _load_tuned(TUNED_FILE, [ids[i] for i in self._model[0]], self.embedder) if self._model else None

    def descriptions(self) -> tuple[list[str], np.ndarray]:
        """Every card's descriptions (its title with its summary first, then its examples), and
        the index of the card each describes."""
        texts, owners = [], []
        for i, card in enumerate(self.cards):
            for text in [f"{card.title}. {card.summary}", *card.examples]:
                texts.append(text)
                owners.append(i)
        return texts, np.array(owners, dtype=int)

    def keep_descriptions(self, embed: Callable[[list[str]], np.ndarray]) -> None:
        """Load the descriptions' embeddings: those shipped with the matcher when they cover
        every description (the examples take most of a minute to embed), else ``embed``'s."""
        texts, owners = self.descriptions()
        shipped = _shipped_descriptions(MODEL_FILE)
        keys = [description_key(t) for t in texts]
        if not texts or not all(k in shipped for k in keys):
            vectors = embed(texts)
        else:
            vectors = np.vstack([shipped[k] for k in keys])
        with self._lock:
            self._vectors, self._owners = vectors, owners

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every description's embedding, and the index of the card it describes."""
        with self._lock:
            if self._vectors is None:
                texts, self._owners = self.descriptions()
                self._vectors = self.embedder.embed(texts)
            assert self._owners is not None
            return self._vectors, self._owners

    def _nearness(self, vector: np.ndarray) -> np.ndarray:
        """Per card: the cosine to its title with summary, plus that to its nearest description."""
        vectors, owners = self.vectors()
        sims = vectors @ vector
        first = np.searchsorted(owners, np.arange(len(self.cards)))  # the title with summary
        return np.maximum.reduceat(sims, first) + sims[first]  # each card's descriptions run together

    @property
    def learned(self) -> bool:
        return self._model is not None

    def match(
        self, vector: np.ndarray, layers: np.ndarray | None = None, n: int = 2, tokens: tuple | None = None
    ) -> list[Match]:
        """The ``n`` cards that best fit a situation, best first; ``layers`` and ``tokens`` (the
        token states after SPLIT and their mask, for the tuned head) as the reader computes them."""
        if not self.cards:
            return []
        if self._model is not None and layers is not None:
            order, mean, scale, coef, intercept = self._model
            z = ((layers - mean) / scale) @ coef.T + intercept
            tuned = None
            if self._tuned is not None and tokens is not None:
                top, at = self._tuned
                tuned = top.logits(top.pooled(*tokens))[:, at]
            p = combined(z[None, :], self._nearness(vector)[order][None, :], tuned)[0]
            return [Match(self.cards[order[i]], float(p[i])) for i in np.argsort(-p)[:n]]
        vectors, owners = self.vectors()
        best = np.full(len(self.cards), -1.0)
        np.maximum.at(best, owners, vectors @ vector)
        return [Match(self.cards[i], float(best[i])) for i in np.argsort(-best)[:n]]

    def lines(self) -> list[tuple[Card, Line]]:
        """Every line a reply may quote from a card: options, what is going on, what to watch, words."""
        return [
            (card, line)
            for card in self.cards
            for line in [*(o.line for o in card.options), *card.reading, *card.watch, *card.words]
        ]

    def keep_lines(self, lines: list[tuple[Card, Line]], vectors: np.ndarray) -> None:
        """Take the embeddings of ``lines`` (computed, or read from disk, at ingest)."""
        with self._lock:
            for (card, line), vector in zip(lines, vectors):
                self._lines[(card.doc_id, line.start)] = vector

    def line_vectors(self, card: Card, lines: list[Line]) -> np.ndarray:
        """Embeddings of some of a card's lines, kept after the first time."""
        with self._lock:
            missing = [line for line in lines if (card.doc_id, line.start) not in self._lines]
            if missing:
                for line, v in zip(missing, self.embedder.embed([line.text for line in missing])):
                    self._lines[(card.doc_id, line.start)] = v
            return np.vstack([self._lines[(card.doc_id, line.start)] for line in lines])


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def combined(logits: np.ndarray, nearness: np.ndarray, tuned: np.ndarray | None = None) -> np.ndarray:
    """Rows of card probabilities: the matcher's ``logits`` moved by each card's ``nearness``, and
    averaged with the tuned head's log-probabilities when there are some (averaged, not added, so a
    probability means about what it meant for one reading: on the blind situations, a match of 0.5
    or more is right 77% of the time, against 66% for the regression alone)."""
    z = _log_softmax(logits) + SIMILAR_WEIGHT * nearness
    if tuned is not None:
        z = (z + TUNED_WEIGHT * _log_softmax(tuned)) / (1 + TUNED_WEIGHT)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def description_key(text: str) -> str:
    """The key a description's shipped embedding is stored under."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _shipped_descriptions(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    data = np.load(path)
    if "description_keys" not in data.files:
        return {}
    return dict(zip((str(k) for k in data["description_keys"]), data["description_vectors"]))


def _load_tuned(path: Path, card_ids: list[str], embedder: Embedder) -> tuple | None:
    """The tuned layers and card head, with the index among the head's classes of each card of
    ``card_ids``; None when there is none or it knows other cards."""
    if not path.exists():
        return None
    from safetensors import safe_open

    from .understanding import TunedLayers

    with safe_open(str(path), "np") as f:
        known = json.loads((f.metadata() or {}).get("cards", "[]"))
    if sorted(known) != sorted(card_ids):
        return None
    return TunedLayers(embedder, path, known, 0, "matcher"), np.array([known.index(c) for c in card_ids])


def _load_matcher(path: Path, card_ids: tuple[str, ...]) -> tuple | None:
    """The trained matcher, with its classes in the order of ``card_ids``; None when it does not
    know exactly these cards (then cards are matched by similarity)."""
    if not path.exists() or not card_ids:
        return None
    data = np.load(path)
    known = [str(c) for c in data["cards"]]
    if sorted(known) != sorted(card_ids):
        return None
    order = [card_ids.index(c) for c in known]
    return order, data["mean"], data["scale"], data["coef"], data["intercept"]
