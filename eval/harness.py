"""Run the datasets through a system (the Coach or the naive baseline) and score it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant import Coach, Reply

from . import metrics
from .metrics import Scores

DATA = Path(__file__).resolve().parent / "data"
RETRIEVE_K = 10


class System(Protocol):
    """What the harness needs of a system under test."""

    def search(self, query: str, k: int) -> list[tuple[str, str]]: ...

    def ask(self, question: str, history: list[dict] | None = None) -> Reply: ...


class CoachSystem:
    """The Coach through its public API."""

    name = "ours"

    def __init__(self, coach: Coach) -> None:
        self.coach = coach

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        """The ranked ``(doc_id, text)`` passages of ``coach.search``."""
        return [(p.chunk.doc_id, p.chunk.text) for p in self.coach.search(query, top_k=k)]

    def ask(self, question: str, history: list[dict] | None = None) -> Reply:
        return self.coach.ask(question, history=history or [])


@dataclass(frozen=True)
class Datasets:
    """The evaluation items of one run."""

    questions: list[dict]
    out_of_scope: list[dict]
    conversations: list[dict]
    dev: list[dict] = ()  # type: ignore[assignment]  # messages as people write them, for reply quality


def read_jsonl(name: str) -> list[dict]:
    """The rows of ``eval/data/<name>``."""
    return [json.loads(line) for line in (DATA / name).open(encoding="utf-8") if line.strip()]


def load_datasets(fast: bool) -> Datasets:
    """All items, or every 4th of each set with ``fast``."""
    step = 4 if fast else 1
    return Datasets(
        read_jsonl("questions.jsonl")[::step],
        read_jsonl("out_of_scope.jsonl")[::step],
        read_jsonl("multiturn.jsonl")[::step],
        read_jsonl("dev.jsonl")[::step],
    )


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the milliseconds it took."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - start) * 1000


def latency_summary(items: list[dict], stages: list[str]) -> dict[str, dict[str, float | None]]:
    """p50, p95 and mean milliseconds per stage over per-item timings."""
    summary = {}
    for stage in stages:
        values = [row[stage] for row in items if row.get(stage) is not None]
        summary[stage] = {
            "p50": metrics.percentile(values, 50),
            "p95": metrics.percentile(values, 95),
            "mean": metrics.mean(values),
            "n": float(len(values)),
        }
    return summary


def followups(system: System, conversations: list[dict], replay: bool) -> Scores:
    """Grounding of each conversation's last reply; ``replay`` feeds the earlier turns as history."""
    rows = []
    for conv in conversations:
        history: list[dict] = []
        turns = conv["turns"] if replay else conv["turns"][-1:]
        reply = None
        for turn in turns:
            reply = system.ask(turn, history=list(history))
            history += [{"role": "user", "content": turn}, {"role": "assistant", "content": reply.text}]
        assert reply is not None
        rows.append((conv["id"], reply, conv["expected_doc_ids"]))
    return metrics.grounding(rows)


def dev_replies(system: System, cases: list[dict]) -> list[tuple[str, Reply]]:
    """(message, reply) for every turn of the dev conversations, each turn with the earlier ones."""
    pairs = []
    for case in cases:
        history: list[dict] = []
        for message in case["turns"]:
            reply = system.ask(message, history=list(history))
            pairs.append((message, reply))
            history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]
    return pairs


def run_system(
    system: System,
    data: Datasets,
    embed: metrics.Embed,
    *,
    diagnose: Callable[[str], Any] | None = None,
    replay_history: bool = True,
    check_citations: bool = True,
) -> dict[str, Any]:
    """Score ``system`` on the datasets.

    Args:
        diagnose: timed on each question as a latency stage of its own, when given.
        replay_history: feed a conversation's earlier turns as history (else the last turn alone).
        check_citations: score citation validity and support (trivial for a top-passage answer).
    """
    retrieved, replies, timing_rows = [], [], []
    for item in data.questions:
        ranked, retrieve_ms = timed(system.search, item["question"], RETRIEVE_K)
        retrieved.append(ranked)
        row = {"id": item["id"], "retrieve": retrieve_ms}
        if diagnose is not None:
            _, row["diagnose"] = timed(diagnose, item["question"])
        reply, row["total"] = timed(system.ask, item["question"])
        row["compose"] = max(0.0, row["total"] - retrieve_ms)
        replies.append((item["id"], reply))
        timing_rows.append(row)
    refusals = [(item["question"], False, not reply.in_scope) for item, (_, reply) in zip(data.questions, replies)]
    oos_replies = []
    for item in data.out_of_scope:
        reply = system.ask(item["question"])
        oos_replies.append((item["question"], reply))
        refusals.append((item["question"], True, not reply.in_scope))
    by_id = {item["id"]: item for item in data.questions}
    answered = [(key, reply) for key, reply in replies if reply.in_scope]
    relevance_pairs = [(key, by_id[key]["question"], reply.text) for key, reply in answered]
    cites_doc = [
        {"id": key, "cites_doc": any(c.doc_id == by_id[key]["doc_id"] for c in reply.citations)}
        for key, reply in replies
    ]
    stages = ["retrieve", "diagnose", "compose", "total"] if diagnose else ["retrieve", "total"]
    result: dict[str, Any] = {
        "retrieval": metrics.retrieval_metrics(data.questions, retrieved),
        "answer_relevance": metrics.answer_relevance(relevance_pairs, embed),
        "answer_source": Scores({"rate": metrics.mean([float(i["cites_doc"]) for i in cites_doc])}, cites_doc),
        "scope": metrics.scope_metrics(refusals),
        "followups": followups(system, data.conversations, replay=replay_history),
        "latency": latency_summary(timing_rows, stages),
        "latency_items": timing_rows,
        "answered_out_of_scope": [q for q, reply in oos_replies if reply.in_scope],
        "answers": [
            {
                "id": key,
                "in_scope": r.in_scope,
                "diagnosis": r.diagnosis.lean if r.diagnosis else None,
                "cited": [c.doc_id for c in r.citations],
                "text": r.text,
            }
            for key, r in replies
        ],
        "_replies": [(by_id[key]["question"], reply) for key, reply in answered],  # for a judge; not saved
    }
    read = [(by_id[key]["question"], reply) for key, reply in answered]
    read += [(m, r) for m, r in dev_replies(system, list(data.dev)) if r.in_scope and not r.safety]
    result["answer_in_reply"] = metrics.answer_in_reply(data.questions, replies)
    result["reply_quality"] = metrics.reply_quality(read)
    if check_citations:
        result["citation_validity"] = metrics.citation_validity(replies)
        result["citation_support"] = metrics.citation_support(answered, embed)
    return result
