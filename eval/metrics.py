"""Metric functions: each returns an aggregate and the per-item scores behind it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant import Reply

MARKER = re.compile(r"\[(\d+)\]")
_SPACE = re.compile(r"\s+")
# A sentence ends at . ! or ? before a capital, but not after an initial ("John C. Maxwell").
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\b[A-Z]\.)\s+(?=[A-Z0-9“\"‘'(])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
# A short lead-in label before the claim itself ("Toward motivation: ...").
_LABEL = re.compile(r"^(?:\*\*)?[A-Z][\w-]*(?: [\w-]+){0,3}:(?:\*\*)?\s+")

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Scores:
    """Aggregates by name (None where undefined) and the per-item rows they summarise."""

    aggregates: dict[str, float | None]
    items: list[dict] = field(default_factory=list)


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, None for no values."""
    return float(sum(values) / len(values)) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile ``q`` (0-100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))])


# ---- retrieval ---------------------------------------------------------------------------
def normalise(text: str) -> str:
    """Collapse whitespace, so a phrase still matches across a line break."""
    return _SPACE.sub(" ", text).strip()


def is_relevant(doc_id: str, text: str, item: dict) -> bool:
    """A passage answers an item when it is from the item's document and holds its phrase."""
    return doc_id == item["doc_id"] and normalise(item["phrase"]) in normalise(text)


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when any of the first ``k`` results is relevant."""
    return float(any(relevant[:k]))


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    """1 / rank of the first relevant result; 0.0 when there is none."""
    return next((1.0 / rank for rank, hit in enumerate(relevant, 1) if hit), 0.0)


def ndcg_at_k(relevant: Sequence[bool], k: int, n_relevant: int | None = None) -> float:
    """Binary-gain nDCG@k.

    ``n_relevant`` is how many relevant results exist; by default the number found anywhere
    in ``relevant`` (at least 1), since the full set of relevant chunks is not labelled.
    """
    dcg = sum(1.0 / math.log2(rank + 1) for rank, hit in enumerate(relevant[:k], 1) if hit)
    total = n_relevant if n_relevant is not None else max(1, sum(map(bool, relevant)))
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(total, k) + 1))
    return dcg / ideal if ideal else 0.0


def retrieval_metrics(items: list[dict], results: list[list[tuple[str, str]]]) -> Scores:
    """hit@1, hit@5, MRR, nDCG@10 (passage level) and doc-level hit@1/hit@5.

    ``results[i]`` is the ranked ``(doc_id, text)`` list retrieved for ``items[i]``.
    """
    rows = []
    for item, ranked in zip(items, results, strict=True):
        passage = [is_relevant(doc, text, item) for doc, text in ranked]
        document = [doc == item["doc_id"] for doc, _ in ranked]
        rows.append(
            {
                "id": item["id"],
                "question": item["question"],
                "doc_id": item["doc_id"],
                "retrieved": [doc for doc, _ in ranked],
                "rank": next((i for i, hit in enumerate(passage, 1) if hit), None),
                "hit@1": hit_at_k(passage, 1),
                "hit@5": hit_at_k(passage, 5),
                "mrr": reciprocal_rank(passage),
                "ndcg@10": ndcg_at_k(passage, 10),
                "doc_hit@1": hit_at_k(document, 1),
                "doc_hit@5": hit_at_k(document, 5),
            }
        )
    keys = ("hit@1", "hit@5", "mrr", "ndcg@10", "doc_hit@1", "doc_hit@5")
    return Scores({key: mean([r[key] for r in rows]) for key in keys}, rows)


# ---- citations ---------------------------------------------------------------------------
def markers(text: str) -> list[int]:
    """The [n] marker numbers in ``text``, in order of appearance."""
    return [int(n) for n in MARKER.findall(text)]


def strip_markers(text: str) -> str:
    """``text`` without its [n] markers."""
    return normalise(MARKER.sub("", text))


def citation_check(reply: Reply) -> dict:
    """Which markers point nowhere and which citations go unused, for one reply.

    A reply is valid when it has at least one marker, every marker maps to a citation and
    every citation is used: an in-scope answer that cites nothing is not a cited answer.
    """
    used = set(markers(reply.text))
    known = {c.index for c in reply.citations}
    unknown, unused = sorted(used - known), sorted(known - used)
    return {
        "markers": len(used),
        "unknown": unknown,
        "unused": unused,
        "valid": bool(used) and not unknown and not unused,
    }


def citation_validity(replies: list[tuple[str, Reply]]) -> Scores:
    """Share of ``(id, reply)`` in-scope replies whose markers and citations match one to one."""
    rows = [{"id": key, **citation_check(reply)} for key, reply in replies if reply.in_scope]
    return Scores({"validity": mean([float(r["valid"]) for r in rows])}, rows)


def cited_claims(text: str) -> list[tuple[int, str]]:
    """``(marker, claim)`` pairs: the last sentence before each marker on its line.

    A bullet and a short lead-in label (``Planning: ``) are not part of the claim.
    Consecutive markers (``... [1][2]``) share the claim before the first of them.
    """
    pairs: list[tuple[int, str]] = []
    for line in text.splitlines():
        start, claim = 0, ""
        for match in MARKER.finditer(line):
            segment = _BULLET.sub("", line[start : match.start()]).strip(" \t.,;*_")
            sentences = [_LABEL.sub("", s).strip() for s in _SENTENCE_END.split(segment) if s.strip()]
            if sentences:
                claim = sentences[-1].strip()
            if claim:
                pairs.append((int(match.group(1)), claim))
            start = match.end()
    return pairs


def cosine_rows(embed: Embed, left: list[str], right: list[str]) -> list[float]:
    """Cosine similarity of ``left[i]`` and ``right[i]`` for each i (one embed call, each text once)."""
    if not left:
        return []
    unique = list(dict.fromkeys(left + right))
    vectors = np.asarray(embed(unique), dtype=np.float32)
    row = {text: i for i, text in enumerate(unique)}
    a, b = vectors[[row[t] for t in left]], vectors[[row[t] for t in right]]
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return [float(x) for x in np.sum(a * b, axis=1) / np.where(norms == 0, 1.0, norms)]


def citation_support(replies: list[tuple[str, Reply]], embed: Embed, above: float = 0.5) -> Scores:
    """Cosine similarity of each cited claim to the passage its marker points at."""
    rows = []
    for key, reply in replies:
        passages = {c.index: c.text for c in reply.citations}
        for marker, claim in cited_claims(reply.text):
            if marker in passages:
                rows.append({"id": key, "marker": marker, "claim": claim, "passage": passages[marker]})
    scores = cosine_rows(embed, [r["claim"] for r in rows], [r["passage"] for r in rows])
    items = [{"id": r["id"], "marker": r["marker"], "claim": r["claim"], "support": s} for r, s in zip(rows, scores)]
    return Scores({"mean": mean(scores), "share_above": mean([float(s > above) for s in scores])}, items)


def answer_relevance(pairs: list[tuple[str, str, str]], embed: Embed) -> Scores:
    """Cosine similarity of each ``(id, question, answer)``, markers stripped from the answer."""
    scores = cosine_rows(embed, [q for _, q, _ in pairs], [strip_markers(a) for _, _, a in pairs])
    return Scores({"mean": mean(scores)}, [{"id": key, "relevance": s} for (key, _, _), s in zip(pairs, scores)])


# ---- scope and follow-ups ----------------------------------------------------------------
def scope_metrics(rows: list[tuple[str, bool, bool]]) -> Scores:
    """Precision and recall of refusing over ``(question, out_of_scope, refused)`` rows.

    The positive class is out of scope. Precision is None when nothing was refused
    (undefined, not zero).
    """
    tp = sum(t and r for _, t, r in rows)
    fp = sum(r and not t for _, t, r in rows)
    fn = sum(t and not r for _, t, r in rows)
    aggregates = {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "refused_in_scope": float(fp),
        "answered_out_of_scope": float(fn),
    }
    items = [{"question": q, "out_of_scope": t, "refused": r, "correct": t == r} for q, t, r in rows]
    return Scores(aggregates, items)


def grounded(reply: Reply, expected: Sequence[str]) -> bool:
    """Whether any citation of ``reply`` comes from one of the ``expected`` documents."""
    return any(c.doc_id in expected for c in reply.citations)


def grounding(rows: list[tuple[str, Reply, Sequence[str]]]) -> Scores:
    """Share of ``(id, last reply, expected doc ids)`` conversations whose last reply is grounded."""
    items = [
        {"id": key, "grounded": grounded(reply, expected), "cited": [c.doc_id for c in reply.citations]}
        for key, reply, expected in rows
    ]
    return Scores({"rate": mean([float(i["grounded"]) for i in items])}, items)


# ---- what a person reads ---------------------------------------------------------------------
_PRONOUN_START = re.compile(r"^(?:it|this|that|these|those|they|them|their|he|she|his|her|such)\b", re.I)
BOILERPLATE = re.compile(
    r"here is what the library says|additional resources|watch video|coming soon|schedule your|"
    r"complimentary consultation|from what you wrote|a question for you",
    re.I,
)
ECHO_WORDS = 10


def echoes(message: str, reply: str, n: int = ECHO_WORDS) -> bool:
    """Whether ``reply`` repeats ``n`` or more consecutive words of ``message``."""
    words = normalise(message).lower().split()
    said = " " + normalise(strip_markers(reply)).lower() + " "
    return any(" " + " ".join(words[i : i + n]) + " " in said for i in range(len(words) - n + 1))


def orphans(reply: Reply) -> list[str]:
    """Quoted sentences that start with a pronoun whose antecedent is not quoted with them."""
    return [c.quote for c in reply.citations if c.quote and _PRONOUN_START.match(c.quote)]


def answer_in_reply(items: list[dict], replies: list[tuple[str, Reply]]) -> Scores:
    """Share of library questions whose gold phrase is in the reply's own text (not only a citation)."""
    by_id = {item["id"]: item for item in items}
    rows = [
        {"id": key, "in_reply": normalise(by_id[key]["phrase"]) in normalise(strip_markers(reply.text))}
        for key, reply in replies
    ]
    return Scores({"rate": mean([float(r["in_reply"]) for r in rows])}, rows)


def reply_quality(pairs: list[tuple[str, Reply]]) -> Scores:
    """Echo, orphan and boilerplate rates, and the share ending on exactly one question, over
    ``(message, reply)`` pairs of in-scope, non-safety replies."""
    rows = []
    for message, reply in pairs:
        text = strip_markers(reply.text)
        paragraphs = MARKER.sub("", reply.text).split("\n\n")
        last = [p for p in paragraphs if p.strip() and not p.strip().startswith("_")][-1:]
        rows.append(
            {
                "message": message[:120],
                "echo": echoes(message, reply.text),
                "orphans": orphans(reply),
                "boilerplate": bool(BOILERPLATE.search(text)),
                "one_question_at_end": bool(last) and last[0].rstrip().endswith("?") and text.count("?") == 1,
            }
        )
    return Scores(
        {
            "echo_rate": mean([float(r["echo"]) for r in rows]),
            "orphan_rate": mean([float(bool(r["orphans"])) for r in rows]),
            "boilerplate_rate": mean([float(r["boilerplate"]) for r in rows]),
            "one_question_at_end": mean([float(r["one_question_at_end"]) for r in rows]),
        },
        rows,
    )
