"""What a backend gets: the question, the passages to cite and the tools to cite them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..types import Citation, Diagnosis, Passage, Sentence

MARKER = re.compile(r"\[(\d{1,3})\]")


@dataclass(frozen=True)
class Context:
    """Everything needed to answer one message."""

    question: str
    query: str
    passages: list[Passage]
    vector: Any
    sentences: list[tuple[Sentence, np.ndarray]]
    history: list[dict] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    notes: list[str] = field(default_factory=list)
    coaching_question: str = ""


def renumber(text: str, used: list[Passage], quotes: dict[str, Sentence]) -> tuple[str, list[Citation]]:
    """Citations for the passages in ``used`` (already in order of first mention).

    ``text`` must already carry markers [1]..[len(used)] in that order.
    """
    citations = []
    for n, passage in enumerate(used, start=1):
        chunk = passage.chunk
        quote = quotes.get(chunk.chunk_id)
        citations.append(
            Citation(
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
        )
    return text, citations


def markers(text: str) -> list[int]:
    """The citation numbers in ``text``, in order of appearance."""
    return [int(m) for m in MARKER.findall(text)]
