"""The default backend: a coaching reply built from the library's own sentences. No model.

A question is answered first: the sentences the ranker finds answer it, as a short
paragraph, then at most two supporting points. Parts the coaching stage already composed (a
situation's reading and options) come as sections. Every quote carries its marker; the reply
ends with one question.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..chunking import stable_id
from ..types import Citation, Diagnosis, Reply, Sentence
from .context import Context, Quote, Section, Slot, citation
from .ranking import Candidate, leans_on_what_came_before, score

# A second quote must add something: skip sentences this close to one already chosen.
NEAR_DUPLICATE = 0.85
ANSWER_SENTENCES = 2
SUPPORTING_POINTS = 2
# A supporting point must score at least this share of the best answer's score above the weakest.
SUPPORT_SHARE = 0.5
JOINED = 3


class ExtractiveBackend:
    """Quotes the sentences that answer, each followed by its marker, then asks a question."""

    name = "extractive"

    def compose(self, context: Context) -> Reply:
        citations: list[Citation] = []
        number: dict[str, int] = {}

        def cite(quote: Quote) -> str:
            chunk_id = quote.passage.chunk.chunk_id
            if chunk_id not in number:
                number[chunk_id] = len(citations) + 1
                citations.append(citation(number[chunk_id], quote.passage, quote.sentence))
            return f"{quote.sentence.text} [{number[chunk_id]}]"

        parts = [render(section, cite) for section in context.sections]
        for slot in context.slots:
            answer, support = self.select(context, slot)
            if answer:
                parts.append(" ".join(cite(q) for q in answer))
            if support:
                parts.append("\n".join(f"- {cite(q)}" for q in support))
        if context.coaching_question:
            parts.append(context.coaching_question)
        parts.extend(f"_{note}_" for note in context.notes)
        return Reply(
            text="\n\n".join(p for p in parts if p),
            citations=citations,
            in_scope=True,
            diagnosis=context.diagnosis,
            query=context.query,
            notes=list(context.notes),
            intent=context.intent,
        )

    def stream(self, context: Context) -> Iterator[Reply]:
        final = self.compose(context)
        words = final.text.split(" ")
        step = 6
        for i in range(step, len(words), step):
            yield Reply(" ".join(words[:i]), [], True, query=final.query, partial=True, intent=final.intent)
        yield final

    def select(self, context: Context, slot: Slot) -> tuple[list[Quote], list[Quote]]:
        """The answer (up to two sentences of the best passage) and up to two supporting points."""
        candidates = _candidates(context, slot)
        if not candidates:
            return [], []
        scores = score(candidates, context.query, slot.vector)
        order = [int(i) for i in np.argsort(-scores)]
        best = candidates[order[0]]
        answer = [best]
        # A second answer sentence only when it follows the first in the same passage.
        follow = next((c for c in candidates if c.passage is best.passage and c.position == best.position + 1), None)
        if follow is not None and scores[candidates.index(follow)] >= np.median(scores) and ANSWER_SENTENCES > 1:
            answer.append(follow)
        floor = scores.min() + SUPPORT_SHARE * (scores[order[0]] - scores.min())
        taken = [c.vector for c in answer]
        support: list[Candidate] = []
        for i in order[1:]:
            c = candidates[i]
            if len(support) == min(SUPPORTING_POINTS, slot.quotes - 1) or scores[i] < floor:
                break
            if c in answer or any(s.passage is c.passage for s in support) or c.passage is best.passage:
                continue
            if any(float(c.vector @ v) > NEAR_DUPLICATE for v in taken):
                continue
            support.append(c)
            taken.append(c.vector)
        quotes = [_quote(context, c) for c in answer]
        # A second sentence that leans on the first is quoted with it: the first is not said twice.
        if len(quotes) == 2 and quotes[1].sentence.start <= quotes[0].sentence.start:
            quotes = quotes[1:]
        return quotes, [_quote(context, c) for c in support]


def _candidates(context: Context, slot: Slot) -> list[Candidate]:
    rank = {p.chunk.chunk_id: i for i, p in enumerate(slot.passages)}
    by_chunk: dict[str, list[tuple[Sentence, np.ndarray]]] = {}
    for sentence, vector in context.sentences:
        if sentence.chunk_id in rank:
            by_chunk.setdefault(sentence.chunk_id, []).append((sentence, vector))
    out = []
    for chunk_id, items in by_chunk.items():
        items.sort(key=lambda item: item[0].start)
        for position, (sentence, vector) in enumerate(items):
            # A question is no answer; a sentence that leans on one before it, with none before
            # it in the passage, would be quoted as an orphan.
            if is_question(sentence.text) or (position == 0 and leans_on_what_came_before(sentence.text)):
                continue
            out.append(Candidate(sentence, vector, slot.passages[rank[chunk_id]], rank[chunk_id], position))
    return out


def is_question(text: str) -> bool:
    """A question, or a list of them run together ("What would...?, Am I...?.")."""
    text = text.rstrip()
    return text.endswith(("?", "?.", '?"', "?”")) or "?, " in text


def _quote(context: Context, c: Candidate) -> Quote:
    """The candidate as a quote; a sentence that leans on the one before it is quoted with it
    (and that one with its own, up to JOINED sentences, while each leans back)."""
    sentence = c.sentence
    earlier = sorted(
        (s for s, _ in context.sentences if s.chunk_id == sentence.chunk_id and s.end <= sentence.start),
        key=lambda s: s.end,
    )
    first, texts = sentence, [sentence.text]
    while earlier and len(texts) < JOINED and leans_on_what_came_before(first.text):
        first = earlier.pop()
        texts.insert(0, first.text)
    if first is not sentence:
        sentence = Sentence(
            stable_id(sentence.chunk_id, str(first.start), "joined"),
            sentence.chunk_id,
            sentence.doc_id,
            " ".join(texts),
            first.start,
            sentence.end,
        )
    return Quote(c.passage, sentence)


def render(section: Section, cite: object) -> str:
    """A composed section: its lead, then its quotes as a list or run on after the lead."""
    quoted = [cite(q) for q in section.quotes]  # type: ignore[operator]
    if section.bullets:
        return "\n".join([section.lead, *(f"- {q}" for q in quoted)]) if quoted else ""
    return " ".join(part for part in [section.lead, *quoted, section.after] if part)


def opening(diagnosis: Diagnosis | None) -> str:
    """A one-line managing/leading read (the language-model backends open with it)."""
    if diagnosis is None:
        return ""
    top = [f"**{f.name}**" for f in diagnosis.drivers()]
    if diagnosis.lean == "balanced":
        return f"What you describe mixes managing and leading, mostly {' and '.join(top)}."
    verb = "managing" if diagnosis.lean == "management" else "leading"
    return f"What you describe leans to **{verb}**, mostly {' and '.join(top)}."
