"""python -m eval [--fast] [--out DIR] [--judge]: score the assistant against a naive RAG baseline.

Writes DIR/report.md, DIR/results.json and PNG plots (default DIR: eval/results/<UTC time>).
Exits 3 when a headline metric falls below its floor in eval/thresholds.toml.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from assistant import Coach, Settings

from . import headline, report
from .baseline import NaiveRag, langchain_embeddings
from .diagnosis import evaluate, keyword_diagnose
from .harness import CoachSystem, load_datasets, run_system
from .judge import judge

RESULTS = Path(__file__).resolve().parent / "results"
BELOW_FLOOR = 3
WARM_UP = "What do managers focus on?"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="every 4th item of each set (under a minute)")
    parser.add_argument("--out", type=Path, help="output folder (default: eval/results/<UTC timestamp>)")
    parser.add_argument("--judge", action="store_true", help="add ragas scores (needs ASSISTANT_LLM)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    """Build a fresh index and the baseline, score both; returns everything the report needs."""
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    data = load_datasets(args.fast)
    with tempfile.TemporaryDirectory(prefix="eval-assistant-") as tmp:
        coach = Coach(Settings(data_dir=Path(tmp), llm=os.environ.get("ASSISTANT_LLM") or "extractive"))
        embed = coach.embedder.embed  # inside the Coach: the metrics embed with its own model
        embed(["load the model first, so the index build is timed alone"])
        t = time.perf_counter()
        coach.ingest(progress=False)
        index_s = time.perf_counter() - t
        print(f"index built in {index_s:.1f} s", flush=True)
        t = time.perf_counter()
        naive = NaiveRag(coach.settings.corpus_dir, embed, Path(tmp) / "naive")
        baseline_s = time.perf_counter() - t
        coach.ask(WARM_UP)  # first calls load lazy parts: keep them out of the latency figures
        naive.ask(WARM_UP)
        phases, t = {}, time.perf_counter()
        ours = run_system(CoachSystem(coach), data, embed, diagnose=coach.diagnose)
        phases["ours"], t = time.perf_counter() - t, time.perf_counter()
        baseline = run_system(naive, data, embed, replay_history=False, check_citations=False)
        phases["baseline"], t = time.perf_counter() - t, time.perf_counter()
        diagnosis = {"ours": evaluate(coach.diagnose), "keywords": evaluate(keyword_diagnose)}
        phases["diagnosis"] = time.perf_counter() - t
        judged = judge(ours["_replies"], langchain_embeddings(embed)) if args.judge else None
        if judged and judged["status"] != "ok":
            print(f"judge skipped: {judged['reason']}", flush=True)
        naive.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    meta = {
        "started": stamp.isoformat(timespec="seconds"),
        "fast": args.fast,
        "llm": coach.settings.llm,
        "questions": len(data.questions),
        "out_of_scope": len(data.out_of_scope),
        "conversations": len(data.conversations),
        "baseline_chunks": len(naive.chunks),
        "index_build_s": index_s,
        "baseline_build_s": baseline_s,
        "evaluate_s": sum(phases.values()),
        "phases_s": phases,
        "peak_memory_mib": peak_mib,
        "wall_s": time.perf_counter() - started,
    }
    return {"meta": meta, "ours": ours, "baseline": baseline, "diagnosis": diagnosis, "judge": judged}


def main(argv: list[str] | None = None) -> int:
    """Run, write the report, print the headline; non-zero when a metric is below its floor."""
    start = time.perf_counter()
    args = parse(argv)
    out = args.out or RESULTS / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = run(args)
    rows = headline.build(result["ours"], result["baseline"], result["diagnosis"], result["meta"]["peak_memory_mib"])
    limits = headline.load_thresholds()
    headline.annotate(rows, limits)
    failures = headline.check(rows, limits)
    result.update(headline=rows, thresholds=limits, failures=failures)
    report.write(out, result)
    print("\n".join(report.headline_table(rows)))
    print(f"\nreport: {out / 'report.md'}")
    print(f"total wall time {time.perf_counter() - start:.1f} s (index build {result['meta']['index_build_s']:.1f} s)")
    for failure in failures:
        print(f"BELOW FLOOR {failure}", file=sys.stderr)
    return BELOW_FLOOR if failures else 0


if __name__ == "__main__":
    sys.exit(main())
