"""Speed figures for the foundation: python -m eval.bench [--questions N]

Prints: ingest time for the corpus into an empty index, re-ingest time when nothing changed,
cold times with the index built (a new process's Coach() to its first answer; the command line
`python -m assistant ask`; `python app.py` until the page answers), the floor (one query
embedding plus one Chroma query), warm ask p50/p95 over library questions, and warm p50/p95 per
kind of reply over every turn of the dev set (each turn with the conversation before it), each
beside the floor. Last, the onnxruntime embeddings against torch's over every library chunk.
ASSISTANT_RUNTIME=torch measures the torch path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant import Coach, Settings
from eval import serve

DATA = Path(__file__).resolve().parent / "data"

COLD = """
import sys, time
t = time.perf_counter()
from assistant import Coach, Settings
from eval import serve
coach = Coach(Settings(data_dir=sys.argv[1]))
coach.ask("What do managers focus on?")
print(time.perf_counter() - t)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args(argv)
    questions = [json.loads(line)["question"] for line in (DATA / "questions.jsonl").open(encoding="utf-8")]
    questions = questions[: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        coach = Coach(Settings(data_dir=Path(tmp)))
        coach.embedder.embed(["load the model first, so ingest measures indexing only"])
        t = time.perf_counter()
        report = coach.ingest(progress=False)
        ingest = time.perf_counter() - t
        t = time.perf_counter()
        again = coach.ingest(progress=False)
        reingest = time.perf_counter() - t
        assert not again.changed
        cold = float(subprocess.run([sys.executable, "-c", COLD, tmp], capture_output=True, text=True).stdout)
        env = {**os.environ, "ASSISTANT_DATA_DIR": tmp}
        t = time.perf_counter()
        command = [sys.executable, "-m", "assistant", "ask", questions[0]]
        subprocess.run(command, env=env, capture_output=True, check=True)
        cli = time.perf_counter() - t
        t = time.perf_counter()
        with serve.running_app(Path(tmp)):
            page = time.perf_counter() - t
        coach.ask("warm up")
        coach.ask("I rewrite every report my team sends me.")
        # The floor reaches inside the Coach: one embedding and one Chroma query, nothing else.
        floors, timings = [], []
        for q in questions:
            t = time.perf_counter()
            coach.index.chunks.query(query_embeddings=[coach.embedder.embed_one(q)], n_results=coach.settings.top_k)
            floors.append((time.perf_counter() - t) * 1000)
        floor = percentile(floors, 95)
        for q in questions:
            t = time.perf_counter()
            coach.ask(q)
            timings.append((time.perf_counter() - t) * 1000)
        by_kind: dict[str, list[float]] = {}
        for line in (DATA / "dev.jsonl").open(encoding="utf-8"):
            history: list[dict] = []
            for message in json.loads(line)["turns"]:
                t = time.perf_counter()
                reply = coach.ask(message, history=history)
                by_kind.setdefault(reply.intent, []).append((time.perf_counter() - t) * 1000)
                history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]
        texts = [c.text for c in coach.index.all_chunks()]
        runtime = coach.embedder.runtime
    print(f"runtime: {runtime}")
    print(f"corpus: {len(report.added)} documents, {report.records_written} records (chunks + sentences)")
    print(f"ingest, empty index:        {ingest:6.1f} s")
    print(f"re-ingest, unchanged:       {reingest:6.2f} s   (target < 2 s)")
    print(f"cold Coach() -> 1st answer: {cold:6.1f} s   (new process, index already built)")
    print(f"cold CLI ask:               {cli:6.1f} s   (python -m assistant ask; target <= 3 s)")
    print(f"cold page ready:            {page:6.1f} s   (python app.py until it answers; target <= 6 s)")
    print(f"floor (embed + 1 query):    p50 {percentile(floors, 50):4.0f} ms, p95 {floor:4.0f} ms")
    print(
        f"warm ask over {len(timings)} questions: p50 {percentile(timings, 50):.0f} ms, "
        f"p95 {percentile(timings, 95):.0f} ms = {percentile(timings, 95) / floor:.1f}x floor  (target p95 < 150 ms)"
    )
    for kind, values in sorted(by_kind.items()):
        p95 = percentile(values, 95)
        print(
            f"warm {kind:10s} ({len(values):2d} turns): p50 {percentile(values, 50):4.0f} ms, "
            f"p95 {p95:4.0f} ms = {p95 / floor:4.1f}x floor"
        )
    check_runtime(texts)


def check_runtime(texts: list[str]) -> None:
    """The onnxruntime graph against sentence-transformers on torch, over every library chunk."""
    from assistant.embeddings import Embedder

    onnx, torch = Embedder(runtime="onnx"), Embedder(runtime="torch")
    if onnx.onnx is None:
        print("onnx vs torch: the onnxruntime graph could not be made (see the warning)")
        return
    cosine = (onnx.embed(texts) * torch.embed(texts)).sum(axis=1)
    print(f"onnx vs torch over {len(texts)} chunks: min cosine {cosine.min():.6f}   (target >= 0.9999)")


if __name__ == "__main__":
    main()
