"""Worst cases for every function that runs a regular expression over user text:
python -m eval.patterns

Each is fed inputs built to make a backtracking pattern slow (long runs of spaces or tabs
between the characters a pattern looks for, a heading-like line with thousands of spaces,
repeated punctuation), at the sizes a person can send: a 4,000-character message, a 20 MB
upload's longest line. Prints the slowest time per function.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from assistant.answer.checks import kind, sentences
from assistant.chunking import chunk_document, chunk_sentences, quotable
from assistant.coach import clean_message
from assistant.coaching import acknowledge, condense, hedges, last_question, own_question, second_person
from assistant.corpus import _split_front_matter
from assistant.diagnosis import clauses
from assistant.types import Document
from assistant.ui.render import highlighted, linked
from assistant.understanding import DISTRESS_WORDS, cues, windows


def adversarial(size: int) -> list[str]:
    """Inputs of about ``size`` characters that trouble backtracking patterns."""
    run = " " * size
    return [
        f"# a{run}b",
        f"#{run}#{run}x",
        f"a{run}b",
        f"a{chr(9) * size}b",
        "." + run + "x",
        (". " + " " * 50) * (size // 52),
        "? " * (size // 2),
        ("and " + " " * 40) * (size // 44),
        "library not " * (size // 12) + "x",
        "[1]" * (size // 3),
        "---\n" + "a: b\n" * (size // 5),
        "I " * (size // 2),
        "- " + "x" * size,
        "**" * (size // 2),
    ]


def cases() -> dict[str, Callable[[str], object]]:
    def chunk(text: str) -> object:
        doc = Document("d", "t", text, "d.md")
        return [chunk_sentences(text, c) for c in chunk_document(doc)]

    return {
        "chunking (chunk_document + chunk_sentences)": chunk,
        "chunking.quotable": quotable,
        "corpus front matter": lambda t: _split_front_matter(__import__("pathlib").Path("x.md"), t),
        "coach.clean_message": lambda t: clean_message(t, 4000),
        "understanding (cues, windows, distress words)": lambda t: (
            cues(t, False),
            windows(t),
            DISTRESS_WORDS.search(t),
        ),
        "coaching (condense, second_person, hedges, acknowledge, questions)": lambda t: (
            condense(t, [{"role": "user", "content": t}]),
            second_person(t),
            hedges(t),
            acknowledge(t),
            last_question(t),
            own_question(t),
        ),
        "diagnosis.clauses": clauses,
        "answer.checks (sentences, kind)": lambda t: (sentences(t), kind(t)),
        "ui.render (linked, highlighted)": lambda t: (
            linked(t, 1),
            highlighted(__import__("assistant").Citation(1, "d", "t", "s", t, 0.5, t[:10], 0, 10)),
        ),
    }


def worst(fn: Callable[[str], object], size: int) -> float:
    slowest = 0.0
    for text in adversarial(size):
        start = time.perf_counter()
        fn(text)
        slowest = max(slowest, time.perf_counter() - start)
    return slowest


def main() -> None:
    for name, fn in cases().items():
        print(
            f"{name:48s} 4,000 chars: {worst(fn, 4000) * 1000:8.1f} ms   "
            f"40,000 chars: {worst(fn, 40000) * 1000:9.1f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
