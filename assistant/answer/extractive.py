"""The default backend: a coaching reply built from the library's own sentences. No model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..types import Passage, Reply, Sentence
from .context import Context, renumber

MAX_QUOTES = 3
# A second quote must add something: skip sentences this close to one already chosen.
NEAR_DUPLICATE = 0.9
RANK_BONUS = 0.02


class ExtractiveBackend:
    """Quotes the most relevant sentences, each followed by its marker, then asks a question."""

    name = "extractive"

    def compose(self, context: Context) -> Reply:
        chosen = self.select(context)
        used: list[Passage] = []
        lines = []
        quotes: dict[str, Sentence] = {}
        by_chunk = {p.chunk.chunk_id: p for p in context.passages}
        for sentence in chosen:
            passage = by_chunk[sentence.chunk_id]
            used.append(passage)
            quotes[sentence.chunk_id] = sentence
            lines.append(f"- {sentence.text} [{len(used)}]")
        parts = [p for p in (opening(context), "\n".join(lines)) if p]
        if context.coaching_question:
            parts.append(f"**A question for you:** {context.coaching_question}")
        parts.extend(f"_{note}_" for note in context.notes)
        text, citations = renumber("\n\n".join(parts), used, quotes)
        return Reply(
            text=text,
            citations=citations,
            in_scope=True,
            diagnosis=context.diagnosis,
            query=context.query,
            notes=list(context.notes),
        )

    def stream(self, context: Context) -> Iterator[Reply]:
        final = self.compose(context)
        words = final.text.split(" ")
        step = 6
        for i in range(step, len(words), step):
            yield Reply(" ".join(words[:i]), [], True, query=final.query, partial=True)
        yield final

    def select(self, context: Context) -> list[Sentence]:
        """The best sentences: one per passage, most relevant first, no near repeats."""
        rank = {p.chunk.chunk_id: i for i, p in enumerate(context.passages)}
        scored = []
        for sentence, vector in context.sentences:
            if sentence.chunk_id not in rank or sentence.text.rstrip().endswith("?"):
                continue
            score = float(np.dot(vector, context.vector)) - RANK_BONUS * rank[sentence.chunk_id]
            scored.append((score, sentence, vector))
        scored.sort(key=lambda item: item[0], reverse=True)
        chosen: list[tuple[Sentence, np.ndarray]] = []
        for _score, sentence, vector in scored:
            if any(s.chunk_id == sentence.chunk_id for s, _ in chosen):
                continue
            if any(float(np.dot(vector, v)) > NEAR_DUPLICATE for _, v in chosen):
                continue
            chosen.append((sentence, vector))
            if len(chosen) == MAX_QUOTES:
                break
        return [s for s, _ in chosen]


def opening(context: Context) -> str:
    diagnosis = context.diagnosis
    if diagnosis is None:
        return "Here is what the library says about that:"
    top = [f.name for f in diagnosis.facets[:2]]
    if diagnosis.lean == "balanced":
        head = "What you describe mixes managing and leading"
    else:
        verb = "managing" if diagnosis.lean == "management" else "leading"
        share = diagnosis.management if diagnosis.lean == "management" else diagnosis.leadership
        head = f"What you describe leans to **{verb}** ({share:.0%})"
    return f"{head}, mostly {' and '.join(top)}. Here is what the library says:"
