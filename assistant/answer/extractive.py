"""The default backend: a coaching reply built from the library's own sentences. No model."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..types import Citation, Diagnosis, Reply, Sentence
from .context import Context, Slot, citation

# A second quote must add something: skip sentences this close to one already chosen.
NEAR_DUPLICATE = 0.9
RANK_BONUS = 0.02


class ExtractiveBackend:
    """Quotes the most relevant sentences, each followed by its marker, then asks a question."""

    name = "extractive"

    def compose(self, context: Context) -> Reply:
        citations: list[Citation] = []
        number: dict[str, int] = {}
        chosen: list[tuple[Sentence, np.ndarray]] = []
        lines = []
        for slot in context.slots:
            for sentence, vector in self.select(context, slot, chosen):
                chosen.append((sentence, vector))
                if sentence.chunk_id not in number:
                    passage = next(p for p in slot.passages if p.chunk.chunk_id == sentence.chunk_id)
                    number[sentence.chunk_id] = len(citations) + 1
                    citations.append(citation(len(citations) + 1, passage, sentence))
                lines.append(f"- {slot.label}{sentence.text} [{number[sentence.chunk_id]}]")
        parts = [opening(context.diagnosis)]
        if context.diagnosis and context.diagnosis.evidence:
            parts.append("From what you wrote: " + ", ".join(f"“{e}”" for e in context.diagnosis.evidence) + ".")
        parts.append("\n".join(lines))
        if context.coaching_question:
            parts.append(f"**A question for you:** {context.coaching_question}")
        parts.extend(f"_{note}_" for note in context.notes)
        return Reply(
            text="\n\n".join(parts),
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

    def select(
        self, context: Context, slot: Slot, taken: list[tuple[Sentence, np.ndarray]]
    ) -> list[tuple[Sentence, np.ndarray]]:
        """The slot's best sentences: one per passage, no near repeats of what is taken."""
        rank = {p.chunk.chunk_id: i for i, p in enumerate(slot.passages)}
        scored = []
        for sentence, vector in context.sentences:
            if sentence.chunk_id not in rank or sentence.text.rstrip().endswith("?"):
                continue
            score = float(np.dot(vector, slot.vector)) - RANK_BONUS * rank[sentence.chunk_id]
            scored.append((score, sentence, vector))
        scored.sort(key=lambda item: item[0], reverse=True)
        picked: list[tuple[Sentence, np.ndarray]] = []
        for _score, sentence, vector in scored:
            if any(s.chunk_id == sentence.chunk_id for s, _ in picked):
                continue
            if any(float(np.dot(vector, v)) > NEAR_DUPLICATE for _, v in taken + picked):
                continue
            picked.append((sentence, vector))
            if len(picked) == slot.quotes:
                break
        return picked


def opening(diagnosis: Diagnosis | None) -> str:
    if diagnosis is None:
        return "Here is what the library says about that:"
    top = [f"**{f.name}**" for f in diagnosis.drivers()]
    shares = f"{diagnosis.management:.0%} managing, {diagnosis.leadership:.0%} leading"
    if diagnosis.lean == "balanced":
        head = f"What you describe mixes managing and leading ({shares})"
    else:
        verb = "managing" if diagnosis.lean == "management" else "leading"
        head = f"What you describe leans to **{verb}** ({shares})"
    return f"{head}, mostly {' and '.join(top)}. Here is what the library says:"
