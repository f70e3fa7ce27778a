"""Retrieval at scale: python -m eval.scale [--chunks 100000] [--mode both|embedded|server]

Fills a Chroma collection with N synthetic chunks through the index's own write path, then
times dense queries, the hybrid retriever and the sync scan, and reports memory, for the
embedded store and for a Chroma server (``chroma run``, started here on 127.0.0.1).

Synthetic, on purpose: embedding 100,000 texts with MiniLM on two cores would take most of an
hour per store, so the vectors are written directly, and the embedding rate is measured apart,
on the real corpus chunks the synthetic ones are drawn around (the report shows both, and the
rate of the whole pipeline that follows from them). Each vector is a real chunk's embedding
plus Gaussian noise, renormalised (cosine about 0.8 to its source), so the collection has the
cluster structure of real text rather than uniform noise; its text is that chunk's text with a
variant number, and its metadata is what ``Index.sync`` writes. Queries are real questions from
eval/data, embedded with the real model (not timed). About 1% of the chunks belong to uploads,
so the owner filter that every real query carries has something to exclude.

Every phase is bounded: writing stops at --max-seconds and the report says how far it got.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .serve import free_port, process, rss_mb

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "eval" / "data"
PER_DOC = 20  # chunks per synthetic document
UPLOAD_SHARE = 100  # one chunk in this many belongs to someone's upload
NOISE = 0.75  # norm of the noise added to a real embedding before renormalising


@contextmanager
def chroma_server(path: Path, timeout: float = 90) -> Iterator[tuple[str, subprocess.Popen]]:
    """``chroma run`` on a free loopback port, storing under ``path``; yields (url, process).

    Waits for /api/v2/heartbeat at most ``timeout`` seconds; stops the server on exit.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).with_name("chroma")
    command = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    path.mkdir(parents=True, exist_ok=True)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    with process(command, path.parent / f"chroma-{port}.log", ready, timeout, "chroma run") as proc:
        yield url, proc


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def base_chunks(embedder) -> tuple[list, np.ndarray, float]:
    """The real corpus's chunks, their embeddings (the synthetic ones are drawn around them) and chunks/s."""
    from assistant.chunking import chunk_document
    from assistant.corpus import load_corpus
    from assistant.settings import REPO_CORPUS

    docs, _ = load_corpus(REPO_CORPUS)
    chunks = [(doc, chunk) for doc in docs for chunk in chunk_document(doc)]
    embedder.embed([chunks[0][1].text])  # loads the model: not part of the rate
    started = time.perf_counter()
    vectors = embedder.embed([f"{d.title}. {c.section}. {c.text}" for d, c in chunks])
    return chunks, vectors, len(chunks) / (time.perf_counter() - started)


def synthetic(n: int, chunks: list, vectors: np.ndarray, seed: int = 0) -> Iterator[list[dict]]:
    """Records shaped like Index._records' chunk records, in batches of 1,000."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, 1000):
        count = min(1000, n - start)
        picks = rng.integers(0, len(chunks), count)
        noise = rng.standard_normal((count, vectors.shape[1])).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        batch = vectors[picks] + noise
        batch /= np.linalg.norm(batch, axis=1, keepdims=True)
        records = []
        for j, (pick, vector) in enumerate(zip(picks, batch)):
            i = start + j
            doc, chunk = chunks[pick]
            owner = f"session-{i % 7}" if i % UPLOAD_SHARE == 0 else ""
            meta = {
                "doc_id": f"synthetic-{i // PER_DOC:06d}",
                "version": "synthetic-v1",
                "title": doc.title,
                "path": f"synthetic/{i // PER_DOC:06d}.md",
                "owner": owner,
                "count": PER_DOC,
                "section": chunk.section,
                "start": chunk.start,
                "end": chunk.end,
            }
            text = f"{chunk.text} (variant {i})"
            records.append({"id": f"syn-{i:07d}", "text": text, "meta": meta, "vector": vector})
        yield records


def questions(n: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "questions.jsonl").open(encoding="utf-8")]
    return [row["question"] for row in rows][:n]


def run(settings, label: str, args: argparse.Namespace, embedder, base: tuple, server_pid: int | None) -> dict:
    """Write, then time queries, on one store; returns the figures."""
    from assistant.index import Index
    from assistant.retrieval import HybridRetriever

    out: dict = {"mode": label}
    index = Index(settings, embedder)
    start_rss = rss_mb()
    written, started = 0, time.perf_counter()
    batch_rates = []
    chunks, vectors, embed_rate = base
    for records in synthetic(args.chunks, chunks, vectors):
        t = time.perf_counter()
        index._write(index.chunks, records)
        batch_rates.append(len(records) / (time.perf_counter() - t))
        written += len(records)
        if time.perf_counter() - started > args.max_seconds:
            break
        if written % 10_000 == 0:
            print(f"  {label}: {written:,} chunks, {written / (time.perf_counter() - started):,.0f}/s", flush=True)
    seconds = time.perf_counter() - started
    out.update(
        written=written,
        requested=args.chunks,
        ingest_seconds=round(seconds, 1),
        ingest_rate=round(written / seconds),
        last_batches_rate=round(float(np.mean(batch_rates[-5:]))),
        count=index.count(),
        embed_rate=round(embed_rate),
    )
    # Writing a real chunk means embedding it, then storing it: the two times add up.
    out["pipeline_rate"] = round(1 / (1 / out["embed_rate"] + 1 / out["ingest_rate"]))
    print(f"  {label}: wrote {written:,} chunks in {seconds:.0f} s ({written / seconds:,.0f}/s)", flush=True)

    vectors = embedder.embed(questions(args.queries))
    timings: dict[str, list[float]] = {"dense": [], "filtered": [], "unfiltered": []}
    for vector in vectors:
        t = time.perf_counter()
        index.dense(vector, 20)  # what retrieval runs, for the library only
        timings["dense"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.chunks.query(query_embeddings=[vector], n_results=20, include=["distances"], where={"owner": ""})
        timings["filtered"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.chunks.query(query_embeddings=[vector], n_results=20, include=["distances"])
        timings["unfiltered"].append((time.perf_counter() - t) * 1000)
    for name, values in timings.items():
        out[f"{name}_p50_ms"] = round(percentile(values, 50), 1)
        out[f"{name}_p95_ms"] = round(percentile(values, 95), 1)

    # What a start does with this index, unchanged: open it, learn what it holds (the sync's
    # state), load the retriever. The first start finds no manifest and nothing kept, as every
    # start did before there were any: it scans every record's metadata and reads every chunk to
    # build BM25, then writes both. The next start reads the manifest and the kept retriever.
    kept = settings.data_dir / "retriever"

    def start() -> tuple[float, float, float]:
        t = time.perf_counter()
        opened = Index(settings, embedder)
        state = opened._state("")
        t_state = time.perf_counter()
        HybridRetriever(opened, embedder, 5, 0.32).refresh(keep=kept)
        done = time.perf_counter()
        out["sync_scan_docs"] = len(state["c"])
        return done - t, t_state - t, done - t_state

    first, out["sync_scan_seconds"], out["retriever_refresh_seconds"] = start()
    out["start_first_seconds"] = round(first, 1)
    again, out["start_manifest_seconds"], out["start_kept_retriever_seconds"] = start()
    out["start_unchanged_seconds"] = round(again, 2)
    for key in (
        "sync_scan_seconds",
        "retriever_refresh_seconds",
        "start_manifest_seconds",
        "start_kept_retriever_seconds",
    ):
        out[key] = round(out[key], 2)
    retriever = HybridRetriever(index, embedder, 5, 0.32)
    retriever.refresh(keep=kept)
    hybrid = []
    for text, vector in zip(questions(args.queries), vectors):
        t = time.perf_counter()
        retriever.retrieve(text, vector=vector)
        hybrid.append((time.perf_counter() - t) * 1000)
    out.update(hybrid_p50_ms=round(percentile(hybrid, 50), 1), hybrid_p95_ms=round(percentile(hybrid, 95), 1))
    out.update(
        client_rss_start_mb=round(start_rss), client_rss_mb=round(rss_mb()), client_peak_mb=round(rss_mb(field="VmHWM"))
    )
    if server_pid is not None:
        out.update(server_rss_mb=round(rss_mb(server_pid)), server_peak_mb=round(rss_mb(server_pid, "VmHWM")))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--mode", choices=["both", "embedded", "server"], default="both")
    parser.add_argument("--queries", type=int, default=100, help="real questions to time (embedded first)")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop writing after this long, per mode")
    parser.add_argument("--chroma-url", help="use this Chroma server instead of starting one")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.mode == "both":
        # Each store in a process of its own, so neither's memory figures carry the other's.
        started = time.monotonic()
        results = []
        with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
            for mode in ("embedded", "server"):
                out = Path(tmp) / f"{mode}.json"
                command = [sys.executable, "-m", "eval.scale", "--mode", mode, "--out", str(out)]
                command += ["--chunks", str(args.chunks), "--queries", str(args.queries)]
                command += ["--max-seconds", str(args.max_seconds)]
                if args.chroma_url:
                    command += ["--chroma-url", args.chroma_url]
                subprocess.run(command, check=True, timeout=args.max_seconds + 600, cwd=ROOT)
                results += json.loads(out.read_text())
        print(report(results, time.monotonic() - started))
        if args.out:
            args.out.write_text(json.dumps(results, indent=2))
        return

    from assistant import Settings
    from assistant.embeddings import Embedder

    started = time.monotonic()
    embedder = Embedder()
    base = base_chunks(embedder)
    print(f"{len(base[0])} real chunks embedded as cluster centres", flush=True)
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        root = Path(tmp)
        if args.mode == "embedded":
            settings = Settings(data_dir=root / "embedded", collection="scale")
            results = [run(settings, "embedded", args, embedder, base, None)]
        elif args.chroma_url:
            settings = Settings(data_dir=root / "client", chroma_url=args.chroma_url, collection="scale")
            results = [run(settings, "server", args, embedder, base, None)]
        else:
            with chroma_server(root / "server") as (url, proc):
                settings = Settings(data_dir=root / "client", chroma_url=url, collection="scale")
                results = [run(settings, "server", args, embedder, base, proc.pid)]
    print(report(results, time.monotonic() - started))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


def report(results: list[dict], seconds: float) -> str:
    rows = [
        ("chunks written", "written", "{:,}"),
        ("store write rate (chunks/s)", "ingest_rate", "{:,}"),
        ("  last batches (chunks/s)", "last_batches_rate", "{:,}"),
        ("MiniLM embedding rate (chunks/s)", "embed_rate", "{:,}"),
        ("ingest rate, embed + write (chunks/s)", "pipeline_rate", "{:,}"),
        ("Index.dense p50 / p95 (ms)", ("dense_p50_ms", "dense_p95_ms"), "{} / {}"),
        ("  Chroma query, owner filter", ("filtered_p50_ms", "filtered_p95_ms"), "{} / {}"),
        ("  Chroma query, no filter", ("unfiltered_p50_ms", "unfiltered_p95_ms"), "{} / {}"),
        ("hybrid retrieve p50 / p95 (ms)", ("hybrid_p50_ms", "hybrid_p95_ms"), "{} / {}"),
        ("first start, unchanged index (s)", "start_first_seconds", "{}"),
        ("  sync scan of all records (s)", "sync_scan_seconds", "{}"),
        ("  retriever: read chunks, BM25 (s)", "retriever_refresh_seconds", "{}"),
        ("next starts, unchanged index (s)", "start_unchanged_seconds", "{}"),
        ("  manifest (s)", "start_manifest_seconds", "{}"),
        ("  kept retriever (s)", "start_kept_retriever_seconds", "{}"),
        ("process RSS start/now/peak (MB)", ("client_rss_start_mb", "client_rss_mb", "client_peak_mb"), "{}/{}/{}"),
        ("server RSS now / peak (MB)", ("server_rss_mb", "server_peak_mb"), "{} / {}"),
    ]
    width = 38
    lines = ["", f"{'':{width}}" + "".join(f"{r['mode']:>22}" for r in results)]
    for label, keys, fmt in rows:
        keys = keys if isinstance(keys, tuple) else (keys,)
        cells = []
        for r in results:
            values = [r.get(k) for k in keys]
            cells.append(fmt.format(*values) if all(v is not None for v in values) else "-")
        lines.append(f"{label:{width}}" + "".join(f"{c:>22}" for c in cells))
    lines.append(f"\n{len(results)} mode(s) in {seconds:.0f} s; vectors synthetic (see python -m eval.scale --help).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
