"""The headline metrics of a run, ours beside the baseline, and the floors they must clear."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

THRESHOLDS = Path(__file__).resolve().parent / "thresholds.toml"

# key, label, where it lives in a system's results (family, aggregate)
SHARED = [
    ("hit@1", "Retrieval hit@1 (passage)", ("retrieval", "hit@1")),
    ("hit@5", "Retrieval hit@5 (passage)", ("retrieval", "hit@5")),
    ("mrr", "Retrieval MRR@10 (passage)", ("retrieval", "mrr")),
    ("ndcg@10", "Retrieval nDCG@10 (passage)", ("retrieval", "ndcg@10")),
    ("doc_hit@5", "Retrieval hit@5 (document)", ("retrieval", "doc_hit@5")),
    ("citation_validity", "Citation validity", ("citation_validity", "validity")),
    ("citation_support", "Citation support, mean cosine", ("citation_support", "mean")),
    ("citation_support_share", "Citation support > 0.5, share", ("citation_support", "share_above")),
    ("answer_relevance", "Answer relevance, mean cosine", ("answer_relevance", "mean")),
    ("answer_cites_source", "Answer cites the question's document", ("answer_source", "rate")),
    ("scope_precision", "Refusal precision (out of scope)", ("scope", "precision")),
    ("scope_recall", "Refusal recall (out of scope)", ("scope", "recall")),
    ("followup_grounding", "Follow-up grounding", ("followups", "rate")),
    ("answer_in_reply", "Answer in the reply (gold phrase in its text)", ("answer_in_reply", "rate")),
    ("echo_rate", "Replies echoing 10+ words of the message", ("reply_quality", "echo_rate")),
    ("orphan_rate", "Replies quoting an orphan sentence", ("reply_quality", "orphan_rate")),
    ("boilerplate_rate", "Replies with boilerplate", ("reply_quality", "boilerplate_rate")),
    ("one_question_at_end", "Replies ending on one question", ("reply_quality", "one_question_at_end")),
]
DIAGNOSIS = [
    ("diagnosis_accuracy", "Diagnosis accuracy (clear cases)", "clear_accuracy"),
    ("diagnosis_macro_f1", "Diagnosis macro-F1 (clear cases)", "clear_macro_f1"),
    ("diagnosis_mixed_ok", "Diagnosis mixed cases recognised", "mixed_ok_rate"),
    ("non_situations_diagnosed", "Non-situations wrongly diagnosed", None),
]
LOWER_IS_BETTER = {
    "non_situations_diagnosed",
    "latency_p50_ms",
    "latency_p95_ms",
    "peak_memory_mib",
    "echo_rate",
    "orphan_rate",
    "boilerplate_rate",
}


def _get(results: dict[str, Any], family: str, key: str) -> float | None:
    scores = results.get(family)
    return None if scores is None else scores.aggregates.get(key)


def _diagnosis_value(result: dict, field: str | None) -> float | None:
    """A field of eval.diagnosis.evaluate's result; None means the false-diagnosis rate."""
    if field is not None:
        return result[field]
    return result["non_situations_diagnosed"] / result["non_situations"] if result["non_situations"] else None


def build(ours: dict, baseline: dict, diagnosis: dict, peak_mib: float) -> dict[str, dict[str, Any]]:
    """``{key: {"label", "ours", "baseline", "baseline_name"}}`` for every headline metric."""
    rows: dict[str, dict[str, Any]] = {}
    for key, label, (family, aggregate) in SHARED:
        rows[key] = {
            "label": label,
            "ours": _get(ours, family, aggregate),
            "baseline": _get(baseline, family, aggregate),
            "baseline_name": "naive RAG",
        }
    learned, keywords = diagnosis["ours"], diagnosis["keywords"]
    for key, label, field in DIAGNOSIS:
        rows[key] = {
            "label": label,
            "ours": _diagnosis_value(learned, field),
            "baseline": _diagnosis_value(keywords, field),
            "baseline_name": "keywords",
        }
    for stat in ("p50", "p95"):
        rows[f"latency_{stat}_ms"] = {
            "label": f"Latency {stat}, whole answer (ms)",
            "ours": ours["latency"]["total"][stat],
            "baseline": baseline["latency"]["total"][stat],
            "baseline_name": "naive RAG",
        }
    rows["peak_memory_mib"] = {"label": "Peak memory, whole eval process (MiB)", "ours": peak_mib, "baseline": None}
    return rows


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, float]:
    """The limits in ``thresholds.toml``: floors, and ceilings for lower-is-better metrics."""
    with path.open("rb") as fh:
        table = tomllib.load(fh)
    return {**table.get("floor", {}), **table.get("ceiling", {})}


def check(rows: dict[str, dict[str, Any]], limits: dict[str, float]) -> list[str]:
    """One message per headline metric that falls below its floor (or above its ceiling)."""
    failures = []
    for key, limit in limits.items():
        if key not in rows:
            failures.append(f"{key}: in thresholds.toml but not a headline metric")
            continue
        value = rows[key]["ours"]
        lower = key in LOWER_IS_BETTER
        if value is None or (value > limit if lower else value < limit):
            shown = "none" if value is None else f"{value:.3f}"
            failures.append(f"{key}: {shown} is {'above its ceiling' if lower else 'below its floor'} {limit}")
    return failures


def annotate(rows: dict[str, dict[str, Any]], limits: dict[str, float]) -> None:
    """Put each limit into its headline row (``floor`` or ``ceiling``)."""
    for key, limit in limits.items():
        if key in rows:
            rows[key]["ceiling" if key in LOWER_IS_BETTER else "floor"] = limit
