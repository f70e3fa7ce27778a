"""What a backend gets: the question, the passages to cite and the tools to cite them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..types import Citation, Diagnosis, Passage, Sentence

MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Slot:
    """One part of a reply: passages to quote from, and what a good quote is close to.

    ``label`` introduces the quote ("" for a plain answer); ``vector`` scores sentences.
    """

    label: str
    passages: list[Passage]
    vector: Any
    quotes: int = 1


@dataclass(frozen=True)
class Quote:
    """A chosen sentence (or two that belong together) and the passage that holds it."""

    passage: Passage
    sentence: Sentence


@dataclass(frozen=True)
class Section:
    """A part of a composed reply: the coach's own words, then quotes (as a list, or run on)."""

    lead: str
    quotes: list[Quote] = field(default_factory=list)
    bullets: bool = False
    after: str = ""  # the coach's words after run-on quotes


@dataclass(frozen=True)
class Context:
    """Everything needed to answer one message.

    ``sections`` are parts already composed (a situation's reading and options); ``slots`` are
    passages the backend picks answer sentences from (a question). Both may be present.
    """

    question: str
    query: str
    slots: list[Slot]
    sentences: list[tuple[Sentence, np.ndarray]]
    history: list[dict] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    notes: list[str] = field(default_factory=list)
    coaching_question: str = ""
    intent: str = "question"
    sections: list[Section] = field(default_factory=list)

    @property
    def passages(self) -> list[Passage]:
        """Every passage of every section and slot, once each, in reply order."""
        seen: dict[str, Passage] = {}
        for section in self.sections:
            for q in section.quotes:
                seen.setdefault(q.passage.chunk.chunk_id, q.passage)
        for slot in self.slots:
            for p in slot.passages:
                seen.setdefault(p.chunk.chunk_id, p)
        return list(seen.values())


def citation(n: int, passage: Passage, quote: Sentence | None) -> Citation:
    """Citation ``n`` for a passage, with the quoted sentence's place in it."""
    chunk = passage.chunk
    return Citation(
        index=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        text=chunk.text,
        score=round(passage.similarity, 4),
        quote=quote.text if quote else "",
        quote_start=quote.start - chunk.start if quote else 0,
        quote_end=quote.end - chunk.start if quote else 0,
        chunk_id=chunk.chunk_id,
    )


def markers(text: str) -> list[int]:
    """The citation numbers in ``text``, in order of appearance."""
    return [int(m) for m in MARKER.findall(text)]
