"""Diagnosis metrics on the test split, for the learned model and a keyword baseline."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from assistant import Diagnosis, Facet

DATA = Path(__file__).resolve().parent / "data"
SIDES = {
    "planning": "management",
    "organizing": "management",
    "administering": "management",
    "controlling": "management",
    "enforcement": "management",
    "direction": "leadership",
    "vision": "leadership",
    "motivation": "leadership",
    "inspiring": "leadership",
    "empowering": "leadership",
}

# The baseline: word stems a hand-written rule would look for. Only here, never in the product.
KEYWORDS = {
    "planning": r"plan|schedul|budget|forecast|roadmap|timeline|gantt",
    "organizing": r"organi[sz]|rota|assign|roles?\b|shift|allocat|restructur",
    "administering": r"admin|paperwork|approv|expense|timesheet|report|sign(ed)? off|form",
    "controlling": r"check|monitor|track|review|metric|kpi|dashboard|audit|measur",
    "enforcement": r"enforc|rule|policy|polic|complian|disciplin|warning|deadline",
    "direction": r"direction|priorit|focus on|heading|strategy|path",
    "vision": r"vision|future|imagine|dream|long.term|ambition",
    "motivation": r"motivat|recogni[sz]|thank|morale|energy|celebrat|praise",
    "inspiring": r"inspir|story|stories|example|enthusias|believe",
    "empowering": r"empower|delegat|trust|let (him|her|them)|decide|coach|ownership|step(ped)? back",
}


def read(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).open(encoding="utf-8") if line.strip()]


def keyword_diagnose(text: str) -> Diagnosis | None:
    """Count keyword hits per facet; no hit means no diagnosis."""
    lower = text.lower()
    hits = {f: len(re.findall(p, lower)) for f, p in KEYWORDS.items()}
    total = sum(hits.values())
    if total == 0:
        return None
    management = sum(n for f, n in hits.items() if SIDES[f] == "management") / total
    lean = "balanced" if 0.4 <= management <= 0.6 else ("management" if management > 0.5 else "leadership")
    facets = sorted((Facet(f, SIDES[f], n / total) for f, n in hits.items()), key=lambda f: f.score, reverse=True)
    return Diagnosis(lean, management, 1 - management, facets, [])


def _macro_f1(truth: list[str], predicted: list[str], labels: list[str]) -> float:
    scores = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def evaluate(diagnose: Callable[[str], Diagnosis | None], split: str = "test") -> dict:
    """Accuracy and macro-F1 on clear cases, the mixed-case rate, and false diagnoses."""
    rows = [s for s in read("situations.jsonl") if s["split"] == split]
    others = [n for n in read("non-situations.jsonl") if n["split"] == split]
    clear = [s for s in rows if not s["mixed"]]
    mixed = [s for s in rows if s["mixed"]]
    truth, predicted, items = [], [], []
    for s in clear:
        d = diagnose(s["text"])
        lean = d.lean if d else "none"
        truth.append(s["lean"])
        predicted.append(lean)
        items.append({"id": s["id"], "truth": s["lean"], "predicted": lean})
    mixed_ok = 0
    for s in mixed:
        d = diagnose(s["text"])
        ok = bool(d) and (d.lean == "balanced" or len({f.side for f in d.facets[:3]}) == 2)
        mixed_ok += ok
        items.append({"id": s["id"], "truth": "balanced", "predicted": d.lean if d else "none", "ok": ok})
    false_positive = [n["text"] for n in others if diagnose(n["text"]) is not None]
    labels = ["management", "leadership", "balanced", "none"]
    confusion = {t: {p: sum(a == t and b == p for a, b in zip(truth, predicted)) for p in labels} for t in labels[:2]}
    return {
        "clear_cases": len(clear),
        "clear_accuracy": sum(t == p for t, p in zip(truth, predicted)) / len(clear),
        "clear_macro_f1": _macro_f1(truth, predicted, ["management", "leadership"]),
        "mixed_cases": len(mixed),
        "mixed_ok_rate": mixed_ok / len(mixed),
        "non_situations": len(others),
        "non_situations_diagnosed": len(false_positive),
        "false_diagnoses": false_positive,
        "confusion": confusion,
        "items": items,
    }


def main() -> None:
    from assistant.diagnosis import Diagnoser
    from assistant.embeddings import Embedder

    model = Diagnoser(Embedder())
    for name, fn in (("learned", model.diagnose), ("keywords", keyword_diagnose)):
        r = evaluate(fn)
        print(
            f"{name:9s} clear acc {r['clear_accuracy']:.3f} macro-F1 {r['clear_macro_f1']:.3f} "
            f"(n={r['clear_cases']}) | mixed ok {r['mixed_ok_rate']:.3f} (n={r['mixed_cases']}) | "
            f"non-situations diagnosed {r['non_situations_diagnosed']}/{r['non_situations']}"
        )
        for text in r["false_diagnoses"]:
            print("   false diagnosis:", text)


if __name__ == "__main__":
    main()
