"""Citation enforcement for generated text: never trust a model's own markers.

A model's answer is split into sentences; a marker that points at no passage is dropped; each
claim is scored against the passages by embedding similarity, keeps the markers of the
passages that support it (or gets the best supporting one when it cited the wrong one) and
is left out, and reported, when no passage supports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..types import Citation, Passage, Sentence
from .context import MARKER, Context, citation

# MiniLM cosine a claim needs with one of the passage's sentences (or the whole passage) to
# count as supported. Measured on Qwen2.5-Coder-1.5B and SmolLM2 answers: quotes score 1.0,
# close paraphrases 0.65-0.95, elaborations the passage does not make 0.55-0.6, off-topic
# claims below 0.1. On-topic inventions can still score 0.7: this is a topical check, not
# fact checking.
SUPPORTED = 0.6
# A cited passage gives way to another that supports the claim by this much more.
CLEARLY_BETTER = 0.1
# Passages in one prompt: a 2,048-token context holds six 600-character chunks with room to answer.
MAX_PASSAGES = 6

_PIECE = re.compile(r"\s*(.+?(?:[.!?]+[\"'”’)]*(?:\s*\[\d{1,3}\])*|$))")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_NO_COVER = re.compile(
    r"\b(passages?|library|sources?|texts?)\b.*\b(do(es)?n[o']t|not|no)\b.*\b(cover|mention|say|address|contain|discuss)",
    re.I,
)

NO_COVER_CHARS = 300

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Checked:
    """A model answer after enforcement: text with renumbered markers and what was removed."""

    text: str
    citations: list[Citation]
    supported: int
    unsupported: list[str] = field(default_factory=list)
    invalid_markers: list[int] = field(default_factory=list)
    recited: int = 0
    repeated: int = 0


def numbered(context: Context, limit: int = MAX_PASSAGES) -> list[Passage]:
    """The passages a model sees as [1]..[n]: the composed sections' first (a situation's card),
    then taken from each slot in turn, each once."""
    chosen: dict[str, Passage] = {}
    for section in context.sections:
        for quote in section.quotes:
            if len(chosen) < limit:
                chosen.setdefault(quote.passage.chunk.chunk_id, quote.passage)
    depth = max((len(slot.passages) for slot in context.slots), default=0)
    for i in range(depth):
        for slot in context.slots:
            if i < len(slot.passages) and len(chosen) < limit:
                chosen.setdefault(slot.passages[i].chunk.chunk_id, slot.passages[i])
    return list(chosen.values())


def sentences(line: str) -> list[str]:
    """A line cut into sentences, each keeping the markers that follow its full stop."""
    return [m.group(1).strip() for m in _PIECE.finditer(line) if m.group(1).strip()]


def claim_of(sentence: str) -> str:
    """A sentence without its markers and bullet, spaces tidied."""
    text = _BULLET.sub("", MARKER.sub("", sentence))
    return re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s{2,}", " ", text)).strip()


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def kind(sentence: str) -> str:
    """``claim``, ``question``, ``lead-in`` ("Here is what I found:"), ``no-cover`` or ``empty``.

    Every statement is a claim, however short, except a "the passages do not cover that".
    """
    text = claim_of(sentence).strip(" *_")
    if not text:
        return "empty"
    if text.endswith("?"):
        return "question"
    if text.endswith(":"):
        return "lead-in"
    # Bounded: the pattern's two ".*" backtrack polynomially on a long sentence.
    return "no-cover" if _NO_COVER.search(text[:NO_COVER_CHARS]) else "claim"


class Supports:
    """How well each claim is supported by each passage: best of its sentences and its whole text."""

    def __init__(self, context: Context, passages: list[Passage], embed: Embed) -> None:
        self.passages = passages
        self.embed = embed
        by_chunk: dict[str, list[tuple[Sentence, np.ndarray]]] = {}
        for sentence, vector in context.sentences:
            by_chunk.setdefault(sentence.chunk_id, []).append((sentence, np.asarray(vector, dtype=np.float32)))
        self.sentences = [by_chunk.get(p.chunk.chunk_id, []) for p in passages]
        self.whole = embed([p.chunk.text for p in passages]) if passages else np.zeros((0, 384), np.float32)

    def score(self, claims: list[str]) -> tuple[np.ndarray, list[list[Sentence | None]]]:
        """``(support[claim, passage], best sentence of each passage for each claim)``."""
        if not claims or not self.passages:
            return np.zeros((len(claims), len(self.passages))), [[None] * len(self.passages) for _ in claims]
        vectors = self.embed(claims)
        support = vectors @ self.whole.T
        best: list[list[Sentence | None]] = [[None] * len(self.passages) for _ in claims]
        for j, pairs in enumerate(self.sentences):
            if not pairs:
                continue
            sims = vectors @ np.stack([v for _, v in pairs]).T
            for i in range(len(claims)):
                k = int(np.argmax(sims[i]))
                best[i][j] = pairs[k][0]
                support[i, j] = max(support[i, j], sims[i, k])
        return support, best


def check(text: str, context: Context, passages: list[Passage], embed: Embed, threshold: float = SUPPORTED) -> Checked:
    """Enforce citations on a model's ``text`` answering ``context`` from ``passages`` ([1]..[n]).

    Returns the text with only supported claims, each followed by the markers of the passages
    that support it, renumbered [1]..[k] in order of first use, and their citations. A
    "the passages do not cover that" stays; of the questions only a closing one that does
    not repeat the person's stays; headings, lead-ins and a claim said a second time (small
    models loop) go.
    """
    lines: list[tuple[str, list[str]]] = []
    for raw in text.strip().splitlines():
        bullet = _BULLET.match(raw)
        body = raw[bullet.end() :] if bullet else raw
        if not body.lstrip().startswith("#"):
            lines.append((bullet.group(0).strip() + " " if bullet else "", sentences(body)))
    flat = [s for _, line in lines for s in line]
    kinds = [kind(s) for s in flat]
    claims = [claim_of(s) for s in flat]
    wanted = [i for i, k in enumerate(kinds) if k == "claim"]
    support, best = Supports(context, passages, embed).score([claims[i] for i in wanted])
    row = {i: r for r, i in enumerate(wanted)}
    closing = max((i for i, k in enumerate(kinds) if k != "empty"), default=-1)
    if closing >= 0 and _words(claims[closing]) in _words(context.question):
        closing = -1  # the person's own question said back is no coaching question

    invalid: list[int] = []
    unsupported: list[str] = []
    recited = supported = repeated = 0
    said: set[str] = set()
    number: dict[int, int] = {}  # passage position -> new marker
    quote: dict[int, Sentence | None] = {}
    out_lines = []
    i = -1
    for bullet, line in lines:
        kept = []
        for sentence in line:
            i += 1
            cited = [int(n) for n in MARKER.findall(sentence)]
            invalid += [n for n in cited if not 1 <= n <= len(passages)]
            if kinds[i] == "no-cover" or (kinds[i] == "question" and i == closing):
                kept.append(claims[i])
            if kinds[i] != "claim":
                continue
            if _words(claims[i]) in said:
                repeated += 1
                continue
            said.add(_words(claims[i]))
            r = row[i]
            backing = [j for j in range(len(passages)) if support[r, j] >= threshold]
            use = [j for j in dict.fromkeys(n - 1 for n in cited if 1 <= n <= len(passages)) if j in backing]
            top = max(backing, key=lambda j: support[r, j], default=None)
            if top is not None and (not use or support[r, top] - max(support[r, j] for j in use) > CLEARLY_BETTER):
                use = [top]  # the model cited nothing, the wrong passage or a much weaker one
                recited += 1
            if not use:
                unsupported.append(claims[i])
                continue
            for j in use:
                if j not in number:
                    number[j] = len(number) + 1
                    quote[j] = best[r][j]
            supported += 1
            kept.append(f"{claims[i]} " + "".join(f"[{number[j]}]" for j in use))
        if kept:
            out_lines.append(bullet + " ".join(kept))
    citations = [citation(n, passages[j], quote[j]) for j, n in sorted(number.items(), key=lambda item: item[1])]
    return Checked(
        text="\n".join(out_lines).strip(),
        citations=citations,
        supported=supported,
        unsupported=unsupported,
        invalid_markers=invalid,
        recited=recited,
        repeated=repeated,
    )
