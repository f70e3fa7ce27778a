"""Which sentence answers the question: a learned ranker over a few features of each candidate.

MiniLM similarity alone prefers headings, lead-ins and question-shaped sentences. The ranker
adds the passage's rank and similarity, word overlap with the question, the sentence's place
and shape, and the document's role. Weights come from ``python -m eval.train_ranker`` (a
logistic regression on labelled question/answer pairs) in ``models/ranker.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..types import Passage, Sentence

MODEL_FILE = Path(__file__).resolve().parent.parent / "models" / "ranker.json"
FEATURES = (
    "similarity",
    "passage_similarity",
    "passage_rank",
    "position",
    "first",
    "words",
    "pronoun_start",
    "overlap",
    "playbook",
    "source_document",
    "colon",
    "early_pronoun",
    "example",
    "similarity_gap",
    "overlap_gap",
)
_WORD = re.compile(r"[a-z]{3,}")
_PRONOUN = re.compile(r"^(?:it|its|this|that|these|those|they|them|their|he|she|his|her|such|both)\b", re.I)
# "In his 1989 book, he summarized...": a pronoun in the first words, after an opening that is no
# subject (a preposition, a conjunction, an adverb) and with no name before it. "Feedback lands
# when it names..." has its subject first, and stands alone.
_EARLY_PRONOUN = re.compile(
    r"^(?:in|on|at|after|before|when|while|since|as|for|by|with|from|later|then|still|yet|so|and|or|"
    r"even|over|under|during|through|without|unlike|like|because|although|though|once)\s+"
    r"(?:[a-z0-9,']+\s+){0,3}(?:he|she|his|her|they|their|it|its|this|these)\b",
    re.I,
)
_ALSO = re.compile(r"^(?:[A-Z][\w'-]+(?: [A-Z][\w'-]+)? (?:also|too|further|likewise)\b|If (?:yes|not|so)\b|Another\b)")
_NAME = re.compile(r"^\S+\s+(?:\S+\s+){0,3}?[A-Z][a-z]")
_EXAMPLE = re.compile(r"^(?:an?|for example|for instance|imagine|consider|one|when an?|if an?)\b", re.I)
_STOP = frozenset(
    "the and for are but not you your with what how why who when which does did can could should would "
    "will about from that this they them their there have has had was were been being into than then its "
    "our out any all more most some such very just also only".split()
)


def words(text: str) -> set[str]:
    """The content words of a text, a plural read as its singular ("managers" -> "manager")."""
    return {
        w[:-1] if len(w) > 4 and w.endswith("s") and not w.endswith("ss") else w
        for w in _WORD.findall(text.lower())
        if w not in _STOP
    }


def starts_with_pronoun(text: str) -> bool:
    return bool(_PRONOUN.match(text.strip()))


def leans_on_what_came_before(text: str) -> bool:
    """Whether a sentence needs an earlier one to make sense: it opens with a pronoun, or has one
    in its first words before any name ("In his 1989 book, he summarized..."), or adds to what came
    before ("Kotter also argued...", "Another pitfall...", "If yes, ...")."""
    return (
        starts_with_pronoun(text)
        or (bool(_EARLY_PRONOUN.match(text)) and not _NAME.match(text))
        or bool(_ALSO.match(text))
    )


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with what the ranker needs to know about it."""

    sentence: Sentence
    vector: np.ndarray
    passage: Passage
    rank: int
    position: int


def matrix(candidates: list[Candidate], query: str, query_vector: np.ndarray) -> np.ndarray:
    """The features of every candidate of one question, with each one's gap to the best of them."""
    q = words(query)
    x = np.vstack([features(c, query_vector, q) for c in candidates])
    gaps = x[:, [0, 7]] - x[:, [0, 7]].max(axis=0)  # similarity, overlap
    return np.hstack([x, gaps])


def features(candidate: Candidate, query_vector: np.ndarray, query_words: set[str]) -> np.ndarray:
    """The features of one candidate that do not depend on the others."""
    s, p = candidate.sentence, candidate.passage
    mine = words(s.text)
    overlap = len(mine & query_words) / max(1, len(query_words))
    return np.array(
        [
            float(candidate.vector @ query_vector),
            p.similarity,
            1.0 / (1 + candidate.rank),
            1.0 / (1 + candidate.position),
            float(candidate.position == 0),
            min(len(s.text.split()), 60) / 60,
            float(starts_with_pronoun(s.text)),
            overlap,
            float(s.doc_id.startswith("playbook-")),
            float(s.doc_id == "management-vs-leadership"),
            float(s.text.rstrip().endswith(":") or ": " in s.text[:60]),
            float(bool(_EARLY_PRONOUN.match(s.text)) and not _NAME.match(s.text)),
            float(bool(_EXAMPLE.match(s.text))),
        ],
        dtype=np.float32,
    )


@lru_cache(maxsize=2)
def load_weights(path: Path = MODEL_FILE) -> tuple[np.ndarray, float]:
    if not Path(path).exists():  # before any training: similarity alone, as before the ranker
        return np.eye(len(FEATURES), dtype=np.float32)[0], 0.0
    raw = json.loads(Path(path).read_text())
    assert tuple(raw["features"]) == FEATURES, "ranker.json was trained on other features"
    return np.asarray(raw["coef"], dtype=np.float32), float(raw["intercept"])


def score(candidates: list[Candidate], query: str, query_vector: np.ndarray) -> np.ndarray:
    """One score per candidate; higher answers the question better."""
    if not candidates:
        return np.zeros(0, dtype=np.float32)
    coef, intercept = load_weights()
    return matrix(candidates, query, query_vector) @ coef + intercept
