"""Language-model backends side by side with extractive: python -m eval.llm_compare

    python -m eval.llm_compare --backends extractive,llamacpp:smollm2,llamacpp:qwen2.5-coder-1.5b

Each backend answers the same in-scope questions (every Nth of eval/data/questions.jsonl), a
few situations and the out-of-scope questions, through ``Coach.stream``. Printed per backend:
citation validity and support (eval.metrics), out-of-scope refusal, the share of answers that
fell back to extractive, sentences left out as unsupported, time to first token and tokens per
second (stream chunks: one token each from llama.cpp; extractive streams words, so none).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from assistant import Coach, Reply, Settings

from . import metrics
from .harness import read_jsonl

FALLBACK = "The language model's answer could not be used"


def timed_stream(coach: Coach, question: str) -> tuple[Reply, dict]:
    """The final reply and its timings: first partial, chunks, decode rate, total."""
    start = time.perf_counter()
    first = last = None
    chunks = 0
    reply = None
    for reply in coach.stream(question):
        if reply.partial:
            now = time.perf_counter()
            first = first if first is not None else now
            last, chunks = now, chunks + 1
    total = time.perf_counter() - start
    assert reply is not None
    rate = (chunks - 1) / (last - first) if first is not None and last is not None and last > first else None
    return reply, {
        "ttft": (first - start) if first is not None else total,
        "chunks": chunks,
        "rate": rate,
        "total": total,
    }


def run(spec: str, data_dir: Path, questions: list[str], situations: list[str], out_of_scope: list[str]) -> dict:
    coach = Coach(Settings(data_dir=data_dir, llm=spec))
    coach.ask("warm up: what do managers do?")  # loads the index, MiniLM and the model
    answered, timings, rows = [], [], []
    for i, question in enumerate(questions + situations):
        reply, t = timed_stream(coach, question)
        timings.append(t)
        answered.append((f"q{i}", reply))
        rows.append({"question": question, "text": reply.text, "unsupported": reply.unsupported, **t})
    refused = [not coach.ask(q).in_scope for q in out_of_scope]
    in_scope = [(key, r) for key, r in answered if r.in_scope]
    support = metrics.citation_support(in_scope, coach.embedder.embed)  # the coach's own model, from inside
    rates = [t["rate"] for t in timings if t["rate"]]
    fell_back = [any(n.startswith(FALLBACK) for n in r.notes) for _, r in in_scope]
    return {
        "backend": spec,
        "answers": len(in_scope),
        "citation validity": metrics.citation_validity(in_scope).aggregates["validity"],
        "support mean": support.aggregates["mean"],
        "support > 0.5": support.aggregates["share_above"],
        "out-of-scope refused": sum(refused) / len(refused) if refused else None,
        "in-scope refused": sum(not r.in_scope for _, r in answered) / len(answered),
        "fell back to extractive": sum(fell_back) / len(fell_back) if fell_back else None,
        "unsupported left out / answer": statistics.mean(len(r.unsupported) for _, r in in_scope),
        "time to first token p50 (s)": statistics.median(t["ttft"] for t in timings),
        "tokens/s p50": statistics.median(rates) if rates and spec != "extractive" else None,
        "total p50 (s)": statistics.median(t["total"] for t in timings),
        "_rows": rows,
    }


def table(results: list[dict]) -> str:
    keys = [k for k in results[0] if not k.startswith("_") and k != "backend"]
    lines = ["| metric | " + " | ".join(r["backend"] for r in results) + " |"]
    lines.append("|---|" + "---|" * len(results))
    for key in keys:
        cells = []
        for r in results:
            value = r[key]
            cells.append("—" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value))
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="extractive,llamacpp:smollm2")
    parser.add_argument("--every", type=int, default=10, help="take every Nth in-scope question (default 10)")
    parser.add_argument("--situations", type=int, default=4)
    parser.add_argument("--out-of-scope", type=int, default=8)
    parser.add_argument("--data-dir", type=Path, default=Path(".assistant"))
    parser.add_argument("--json", type=Path, help="also write every answer and timing here")
    args = parser.parse_args(argv)
    questions = [row["question"] for row in read_jsonl("questions.jsonl")[:: args.every]]
    situations = [row["text"] for row in read_jsonl("situations.jsonl")[: args.situations]]
    out_of_scope = [row["question"] for row in read_jsonl("out_of_scope.jsonl")[: args.out_of_scope]]
    results = [
        run(spec.strip(), args.data_dir, questions, situations, out_of_scope) for spec in args.backends.split(",")
    ]
    n = len(questions) + len(situations)
    print(f"{len(questions)} questions + {len(situations)} situations, {len(out_of_scope)} out of scope ({n} answered)")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
