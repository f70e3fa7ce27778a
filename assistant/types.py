"""Plain frozen data that crosses module borders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One corpus file, loaded: its text and front matter."""

    doc_id: str
    title: str
    text: str
    path: str
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)
    content_hash: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of a Document; ``text == document.text[start:end]``."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    text: str
    start: int
    end: int
    doc_hash: str = ""
    owner: str = ""


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores."""

    chunk: Chunk
    score: float
    similarity: float


@dataclass(frozen=True)
class Citation:
    """What a marker [index] in a reply points at.

    ``text`` is the whole passage; ``text[quote_start:quote_end]`` is the cited sentence.
    """

    index: int
    doc_id: str
    title: str
    section: str
    text: str
    score: float
    quote: str = ""
    quote_start: int = 0
    quote_end: int = 0
    chunk_id: str = ""


@dataclass(frozen=True)
class Facet:
    """One focus area of the diagnosis."""

    name: str
    side: str
    score: float


@dataclass(frozen=True)
class Diagnosis:
    """Whether a described situation leans to managing or leading."""

    lean: str
    management: float
    leadership: float
    facets: list[Facet]
    evidence: list[str]

    def drivers(self, n: int = 2) -> list[Facet]:
        """The top facets on the side the situation leans to (either side when balanced)."""
        side = [f for f in self.facets if self.lean == "balanced" or f.side == self.lean]
        return (side or self.facets)[:n]


@dataclass(frozen=True)
class Reply:
    """The assistant's answer: text with [n] markers and the citations they map to.

    ``intent`` is how the message was read: greeting, thanks, about, question, situation,
    options, commitment, goal, distress or off_topic.
    """

    text: str
    citations: list[Citation]
    in_scope: bool
    diagnosis: Diagnosis | None = None
    query: str = ""
    notes: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    partial: bool = False
    safety: bool = False
    intent: str = ""


@dataclass(frozen=True)
class Sentence:
    """A quotable sentence of a chunk; ``start``/``end`` index the document text."""

    sentence_id: str
    chunk_id: str
    doc_id: str
    text: str
    start: int
    end: int
