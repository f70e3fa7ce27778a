"""How well the coach reads messages: python -m eval.intents [--split test|test2|holdout] [--errors]

On the test split of eval/data/intents (or test2: a quarter of the later slices distress-e,
stress-b and offtopic-b, a fifth of followups-b, and all of commitments-b, none trained on; or the holdout set, written
apart and never trained on), prints for the learned reader and for the regular expressions the
coach used before it: intent accuracy and macro-F1, distress recall and precision, the share of
work-stress messages given the safety reply, the off-topic refusal rate and the in-scope false
refusals (both through the whole coach: an off-topic message read as a question can still be
refused by the relevance floor), and the commitment diagnosis's lean accuracy. --errors lists the
misread messages by kind.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from assistant import Coach

from .train_intents import FAMILIES, read_intents

HOLDOUT = Path(__file__).resolve().parent / "data" / "holdout" / "intents-holdout.jsonl"
REFUSED = ("off_topic",)

# The coach's regular expressions before the learned reader (kept here as the baseline only).
_OLD_DISTRESS = re.compile(
    r"\b(kill(?:ing)? myself|suicid\w*|end(?:ing)? (?:it all|my life)|self[- ]?harm\w*|hurt(?:ing)? myself|"
    r"(?:don'?t|do not) want to (?:live|be here)|no reason to live|"
    r"harass\w*|sexual(?:ly)? assault\w*|assaulted|abus(?:ed|ive|ing) me|bull(?:ied|ying) me|threaten\w* me|"
    r"stalk(?:ed|ing) me|medical emergency|legal emergency|chest pains?|can'?t breathe|overdos\w*|heart attack|"
    r"been arrested|being sued|suing me)\b",
    re.I,
)
_OLD_OPTIONS = re.compile(
    r"\b(what (?:could|can|should) i do|how (?:do|can|could|should) i|instead|options?|what else)\b", re.I
)
_OLD_GOAL = re.compile(r"\b(i want to|i'd like to|i would like to|my goal|i wish i could)\b", re.I)
_OLD_COMMITMENT = re.compile(
    r"\b(?:i will|i'll|i am going to|i'm going to|i commit to|my next step is to|i plan to)\b[^.!?\n]{3,}", re.I
)


def baseline_intent(coach: Coach, text: str) -> str:
    """How the coach routed a message before the reader: regexes, the situation head, the floor.

    Reaches inside the Coach (its embedder, diagnoser and retriever): the old routing used them."""
    if _OLD_DISTRESS.search(text):
        return "distress"
    if _OLD_COMMITMENT.search(text):
        return "commitment"
    vector = coach.embedder.embed_one(text)
    if coach.diagnoser.situation_probability(vector) >= 0.5:
        return "situation"
    if _OLD_OPTIONS.search(text):
        return "options"
    if _OLD_GOAL.search(text):
        return "goal"
    if not coach.retriever.retrieve(text, vector=vector).in_scope:
        return "off_topic"
    return "question"


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    scores = []
    for label in sorted(set(truth)):
        tp = sum(t == p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def measure(rows: list[dict], predicted: list[str], refused: list[bool]) -> dict:
    truth = [r["intent"] for r in rows]
    distress = [p == "distress" for p in predicted]
    real = [t == "distress" for t in truth]
    stress = [d for r, d in zip(rows, distress) if r.get("kind") == "work_stress"]
    off = [x for t, x in zip(truth, refused) if t == "off_topic"]
    inside = [x for t, x, d in zip(truth, refused, real) if t != "off_topic" and not d]
    caught = sum(d and r for d, r in zip(distress, real))
    return {
        "n": len(rows),
        "accuracy": sum(t == p for t, p in zip(truth, predicted)) / len(rows),
        "macro_f1": macro_f1(truth, predicted),
        "distress_recall": caught / max(1, sum(real)),
        "distress_precision": caught / max(1, sum(distress)),
        "work_stress_false_safety": sum(stress) / max(1, len(stress)),
        "work_stress_n": len(stress),
        "off_topic_refusal": sum(off) / max(1, len(off)),
        "in_scope_false_refusal": sum(inside) / max(1, len(inside)),
    }


def commitment_lean(coach: Coach, rows: list[dict]) -> tuple[float, int]:
    labelled = [r for r in rows if r["intent"] == "commitment" and r.get("lean")]
    # The diagnoser itself (inside the Coach): a commitment's lean, whatever the reader makes of it.
    right = sum(coach.diagnoser.diagnose(r["text"], commitment=True).lean == r["lean"] for r in labelled)
    return right / max(1, len(labelled)), len(labelled)


def crisis_openings(coach: Coach, rows: list[dict]) -> tuple[int, int, int]:
    """Of the labelled crises, how many get a safety reply that opens with a kind's line, and how
    many of those with the right one. Reads with the reader itself (inside the Coach): the kind."""
    labelled = [r for r in rows if r["intent"] == "distress" and r.get("kind") in FAMILIES]
    opened = right = 0
    for r in labelled:
        read = coach.reader.read(r["text"])
        if read.safety and read.sure and read.kind:
            opened += 1
            right += read.kind == FAMILIES[r["kind"]]
    return opened, right, len(labelled)


def run(coach: Coach, rows: list[dict]) -> tuple[dict, dict, list[tuple[dict, str]]]:
    learned, baseline, refused, old_refused = [], [], [], []
    for r in rows:
        history = [{"role": "user", "content": r["previous"]}] if r.get("previous") else []
        reply = coach.ask(r["text"], history=history)
        learned.append(reply.intent)
        refused.append(not reply.in_scope and not reply.safety)
        old = baseline_intent(coach, r["text"])
        baseline.append(old)
        old_refused.append(old == "off_topic")
    errors = [(r, p) for r, p in zip(rows, learned) if p != r["intent"]]
    return measure(rows, learned, refused), measure(rows, baseline, old_refused), errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["test", "test2", "holdout"], default="test")
    parser.add_argument("--errors", action="store_true", help="list the misread messages by kind")
    args = parser.parse_args(argv)
    if args.split == "holdout":
        rows = [json.loads(line) for line in HOLDOUT.open(encoding="utf-8") if line.strip()]
    else:
        rows = read_intents(args.split)
    coach = Coach()
    learned, baseline, errors = run(coach, rows)
    print(f"{args.split} split: {len(rows)} messages, {Counter(r['intent'] for r in rows).most_common()}")
    print(f"{'':28s}{'learned':>10s}{'regex (before)':>16s}")
    for key in (
        "accuracy",
        "macro_f1",
        "distress_recall",
        "distress_precision",
        "work_stress_false_safety",
        "off_topic_refusal",
        "in_scope_false_refusal",
    ):
        print(f"{key:28s}{learned[key]:>10.3f}{baseline[key]:>16.3f}")
    print(f"(work-stress messages: {learned['work_stress_n']})")
    accuracy, n = commitment_lean(coach, rows)
    print(f"commitment lean accuracy (behaviour moved to): {accuracy:.3f} on {n}")
    opened, right, n = crisis_openings(coach, rows)
    print(f"crises whose safety reply opens with a kind's line: {opened} of {n}, the right kind {right}")
    if args.errors:
        for r, predicted in sorted(errors, key=lambda e: (e[0]["intent"], e[1])):
            print(f"  {r['intent']:>10s} -> {predicted:<10s} [{r.get('kind', '')}] {r['text'][:110]}")


if __name__ == "__main__":
    main()
