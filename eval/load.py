"""Load and soak the running app through its chat API: python -m eval.load [--url URL --pid PID]

Without --url it starts ``app.py`` on a free loopback port over a private copy of the data
dir (ASSISTANT_DATA_DIR, default ./.assistant; the app builds the index when there is none).

1. Reference: one session asks each question once; its replies are what every session must get.
2. Load: --sessions concurrent sessions (gradio_client, one session each) ask --questions
   questions each, in a rotated order. Reports p50/p95 latency and errors, and checks for
   cross-talk: each reply must be the reference reply to the question that session sent, and
   the turn number in its source links must be that session's own count.
3. Soak: --asks more questions from --soak-sessions sessions, sampling the app's resident
   memory (/proc/PID/status VmRSS) every --sample asks.

With --openai, the sessions are clients of the app's OpenAI-protocol endpoint (/v1/chat/completions,
the official ``openai`` SDK, one client each; --key when the app has ASSISTANT_API_KEYS): the
endpoint keeps no state, so cross-talk is a reply that differs from the reference.

With --coach-only, only the soak runs, on a Coach in this process (no app, no chat state): what
the answering itself does to memory.

Every call sends an empty chat history, but the page reads a message against the session's own
earlier turns: the reference is therefore each rotation of the questions asked in order by a
session of its own, and a reply is checked against the reply at the same place of its rotation.
Loopback only, bounded in count (the options) and time (--max-seconds, --call-timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .serve import rss_mb, running_app

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "eval" / "data"
_LINK = re.compile(r"\(#source-(\d+)-(\d+)\)")


@dataclass
class Tally:
    """Latencies and problems, shared by the worker threads."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crosstalk: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float | None, error: str | None = None, crosstalk: str | None = None) -> None:
        with self.lock:
            if seconds is not None:
                self.latencies.append(seconds)
            if error:
                self.errors.append(error)
            if crosstalk:
                self.crosstalk.append(crosstalk)


def load_questions(n: int) -> list[str]:
    """In-scope questions and situations from eval/data, interleaved (every one gets sources)."""
    asked = [json.loads(line)["question"] for line in (DATA / "questions.jsonl").open(encoding="utf-8")]
    told = [json.loads(line)["text"] for line in (DATA / "situations.jsonl").open(encoding="utf-8")]
    mixed = [q for pair in zip(asked[::7], told[::11]) for q in pair]
    return mixed[:n]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def text_of(content: object) -> str:
    """A chat message's text: Gradio 6 sends it as a string or a list of typed parts."""
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def normalised(content: object) -> str:
    """A reply's text with the turn number taken out of its source links."""
    return _LINK.sub(r"(#source-N-\2)", str(content))


class PageSession:
    """One browser-like session: its own gradio_client Client and turn count."""

    def __init__(self, url: str, auth: tuple[str, str] | None, timeout: float) -> None:
        from gradio_client import Client

        self.client = Client(url, auth=auth, verbose=False)
        self.timeout = timeout
        self.turns = 0

    def ask(self, question: str) -> tuple[float, str, str]:
        """(seconds, reply content, sources html) for one message with an empty history."""
        started = time.perf_counter()
        job = self.client.submit(question, [], 5, True, api_name="/chat")
        outputs = job.result(timeout=self.timeout)  # the box, the chat, the sources, then the panels
        messages, sources = outputs[1], outputs[2]
        seconds = time.perf_counter() - started
        self.turns += 1
        # The chat holds the session's every turn: this one is the last user message and its reply.
        asked = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        if asked < 0 or asked + 1 >= len(messages) or text_of(messages[asked].get("content")) != question:
            raise AssertionError(f"the chat came back without this message: {str(messages[-2:])[:120]}")
        return seconds, text_of(messages[asked + 1]["content"]), sources


class ApiSession:
    """One client of the /v1 endpoint, with the same ``ask`` as PageSession (no sources html)."""

    def __init__(self, url: str, key: str | None, timeout: float) -> None:
        import openai

        self.client = openai.OpenAI(base_url=f"{url.rstrip('/')}/v1", api_key=key or "none", timeout=timeout)
        self.client.max_retries = 0
        self.turns = 0

    def ask(self, question: str) -> tuple[float, str, str]:
        started = time.perf_counter()
        reply = self.client.chat.completions.create(
            model="leadership-coach", messages=[{"role": "user", "content": question}]
        )
        self.turns += 1
        return time.perf_counter() - started, reply.choices[0].message.content or "", ""


def check(
    session: PageSession | ApiSession, question: str, content: str, sources: str, expected: str | None
) -> str | None:
    """A description of any cross-talk in one reply; None when it is this session's own.

    ``expected`` is the reference reply for this question at this point of the session (the page
    reads a message against the session's earlier turns); None skips that comparison."""
    if expected is not None and normalised(content) != expected:
        return f"reply to {question[:40]!r} differs from the reference"
    if isinstance(session, ApiSession):
        return None
    # This reply's links are this turn's; the Sources panel shows this session's turns so far only
    # (a reply read against the turns before it may cite nothing).
    turns = {int(t) for t, _ in _LINK.findall(content)}
    shown = {int(t) for t in re.findall(r'id="source-(\d+)-', sources)}
    if not turns <= {session.turns} or not shown <= set(range(1, session.turns + 1)):
        return f"turn {session.turns} of a session shows turn(s) {sorted(turns)}, sources of {sorted(shown)}"
    return None


def run(urls: list[str], pid: int | None, args: argparse.Namespace) -> dict:
    """Reference, load and soak; session n talks to ``urls[n % len(urls)]``."""
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    url = urls[0]

    def connect(url: str, auth: tuple[str, str] | None, timeout: float) -> PageSession | ApiSession:
        return ApiSession(url, args.key, timeout) if args.openai else PageSession(url, auth, timeout)

    deadline = time.monotonic() + args.max_seconds
    questions = load_questions(args.questions)

    print(f"reference replies for {len(questions)} questions ...", flush=True)
    first = connect(url, auth, args.call_timeout)
    kept = []
    for question in questions:
        _, content, _ = first.ask(question)
        if _LINK.search(content) or (args.openai and "\n\nSources:\n" in content):  # every reply needs sources
            kept.append(question)
        else:
            print(f"  left out (no sources in its reply): {question[:60]!r}", flush=True)
    questions = kept
    # Session n asks the questions rotated by n; a reply may depend on the turns before it, so
    # the reference is each rotation asked once, in order, by a session of its own.
    reference: dict[tuple[int, int], str] = {}
    for offset in range(len(questions)):
        one = connect(url, auth, args.call_timeout)
        for i in range(len(questions)):
            reference[(offset, i)] = normalised(one.ask(questions[(offset + i) % len(questions)])[1])
    rss: list[tuple[int, float]] = []

    print(f"load: {args.sessions} sessions x {len(questions)} questions ...", flush=True)
    load = Tally()

    def session_run(number: int) -> None:
        try:
            session = connect(urls[number % len(urls)], auth, args.call_timeout)
        except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
            load.add(None, f"session {number}: could not connect: {exc}")
            return
        for i in range(len(questions)):
            if time.monotonic() > deadline:
                load.add(None, f"session {number}: stopped at the time limit")
                return
            question = questions[(number + i) % len(questions)]
            try:
                seconds, content, sources = session.ask(question)
            except Exception as exc:  # noqa: BLE001
                load.add(None, f"session {number}: {type(exc).__name__}: {exc}"[:300])
                continue
            expected = reference[(number % len(questions), i)]
            load.add(seconds, crosstalk=check(session, question, content, sources, expected))

    started = time.monotonic()
    with ThreadPoolExecutor(args.sessions) as pool:
        list(pool.map(session_run, range(args.sessions)))
    load_seconds = time.monotonic() - started
    if pid:
        rss.append((0, rss_mb(pid)))

    print(f"soak: {args.asks} asks from {args.soak_sessions} sessions, RSS every {args.sample} ...", flush=True)
    soak = Tally()
    done = 0
    counter = threading.Lock()

    def soak_run(number: int) -> None:
        nonlocal done
        session = connect(urls[number % len(urls)], auth, args.call_timeout)
        i = 0
        while time.monotonic() < deadline:
            with counter:
                if done >= args.asks:
                    return
                done += 1
                mine = done
            question = questions[(number + i) % len(questions)]
            i += 1
            try:
                seconds, content, sources = session.ask(question)
                expected = reference.get((number % len(questions), i - 1))  # past one round: turns only
                soak.add(seconds, crosstalk=check(session, question, content, sources, expected))
            except Exception as exc:  # noqa: BLE001
                soak.add(None, f"soak {number}: {type(exc).__name__}: {exc}"[:300])
            if pid and mine % args.sample == 0:
                rss.append((mine, rss_mb(pid)))

    started = time.monotonic()
    with ThreadPoolExecutor(args.soak_sessions) as pool:
        list(pool.map(soak_run, range(args.soak_sessions)))
    soak_seconds = time.monotonic() - started

    return {
        "url": " ".join(urls),
        "sessions": args.sessions,
        "questions_per_session": len(questions),
        "load_calls": len(load.latencies),
        "load_seconds": round(load_seconds, 1),
        "load_p50_ms": round(percentile(load.latencies, 50) * 1000),
        "load_p95_ms": round(percentile(load.latencies, 95) * 1000),
        "load_max_ms": round(max(load.latencies, default=float("nan")) * 1000),
        "load_errors": load.errors,
        "load_crosstalk": load.crosstalk,
        "soak_asks": len(soak.latencies),
        "soak_seconds": round(soak_seconds, 1),
        "soak_p50_ms": round(percentile(soak.latencies, 50) * 1000) if soak.latencies else None,
        "soak_p95_ms": round(percentile(soak.latencies, 95) * 1000) if soak.latencies else None,
        "soak_errors": soak.errors,
        "soak_crosstalk": soak.crosstalk,
        "rss_mb": [(n, round(mb, 1)) for n, mb in rss],
    }


def summary(result: dict) -> str:
    lines = [
        "",
        f"load: {result['sessions']} sessions x {result['questions_per_session']} questions: "
        f"{result['load_calls']} replies in {result['load_seconds']} s; "
        f"p50 {result['load_p50_ms']} ms, p95 {result['load_p95_ms']} ms, max {result['load_max_ms']} ms",
        f"      errors: {len(result['load_errors'])}   cross-talk: {len(result['load_crosstalk'])}",
        f"soak: {result['soak_asks']} asks in {result['soak_seconds']} s; "
        f"p50 {result['soak_p50_ms']} ms, p95 {result['soak_p95_ms']} ms; "
        f"errors: {len(result['soak_errors'])}   cross-talk: {len(result['soak_crosstalk'])}",
    ]
    for problem in (result["load_errors"] + result["load_crosstalk"] + result["soak_errors"])[:10]:
        lines.append(f"  ! {problem}")
    if result["rss_mb"]:
        curve = ", ".join(f"{n}:{mb:.0f}" for n, mb in result["rss_mb"])
        first, last = result["rss_mb"][0][1], result["rss_mb"][-1][1]
        lines.append(f"app RSS (MB) after n soak asks: {curve}")
        lines.append(f"app RSS: {first:.0f} MB as the soak starts, {last:.0f} MB at its end ({last - first:+.0f} MB)")
    else:
        lines.append("app RSS: not measured (pass --pid with --url)")
    return "\n".join(lines)


def coach_soak(args: argparse.Namespace) -> int:
    """--asks questions on a Coach in this process, printing its RSS every --sample asks."""
    from assistant import Coach, Settings

    settings = Settings.from_env()
    coach = Coach(Settings(data_dir=args.data, corpus_dir=settings.corpus_dir) if args.data else settings)
    questions = load_questions(args.questions)
    coach.ask(questions[0])  # loads the index and the model
    curve, latencies, started = {0: rss_mb(os.getpid())}, [], time.monotonic()
    for n in range(1, args.asks + 1):
        t = time.perf_counter()
        reply = coach.ask(questions[n % len(questions)])
        latencies.append(time.perf_counter() - t)
        if not reply.citations:
            print(f"ask {n}: no citations for {questions[n % len(questions)][:60]!r}", flush=True)
            return 1
        if n % args.sample == 0:
            curve[n] = rss_mb(os.getpid())
        if time.monotonic() - started > args.max_seconds:
            break
    print(
        f"coach only: {len(latencies)} asks; p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms"
    )
    print("RSS (MB) after n asks: " + ", ".join(f"{n}:{mb:.0f}" for n, mb in curve.items()))
    first, last = curve[min(curve)], curve[max(curve)]
    print(f"RSS: {first:.0f} MB after the first answer, {last:.0f} MB at the end ({last - first:+.0f} MB)")
    return 0


def run_shared(root: Path, args: argparse.Namespace) -> dict:
    """--processes app processes, each with a data dir of its own under ``root``, on one ``chroma
    run`` server and one PostgreSQL started here; the library is ingested once, from this process."""
    from contextlib import ExitStack

    from assistant import Coach, Settings

    from .scale import chroma_server
    from .serve import postgres

    with ExitStack() as stack:
        database = stack.enter_context(postgres(root / "postgres"))
        chroma, _ = stack.enter_context(chroma_server(root / "chroma-server"))
        print(f"ingesting into {chroma} once ...", flush=True)
        Coach(Settings(data_dir=root / "ingest", chroma_url=chroma, database_url=database)).ingest(progress=False)
        urls, pids = [], []
        for n in range(args.processes):
            print(f"starting app process {n + 1} ...", flush=True)
            env = {"ASSISTANT_CHROMA_URL": chroma, "ASSISTANT_DATABASE_URL": database}
            (root / f"app-{n}").mkdir()
            url, proc = stack.enter_context(running_app(root / f"app-{n}", timeout=600, **env))
            urls.append(url)
            pids.append(proc.pid)
        return run(urls, pids[0], args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running app (loopback only); default: start one")
    parser.add_argument("--pid", type=int, help="the app's process id, for its memory curve (with --url)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="a login, when the app has ASSISTANT_AUTH")
    parser.add_argument("--data", type=Path, help="data dir to copy for the app it starts (default: the settings')")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--asks", type=int, default=1000, help="soak: asks after the load phase")
    parser.add_argument("--soak-sessions", type=int, default=4)
    parser.add_argument("--sample", type=int, default=50, help="soak: sample the app's memory every N asks")
    parser.add_argument("--max-seconds", type=float, default=1200, help="stop asking after this long")
    parser.add_argument("--call-timeout", type=float, default=120, help="the longest one reply may take")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--coach-only", action="store_true", help="soak a Coach in this process instead")
    parser.add_argument("--openai", action="store_true", help="ask through /v1/chat/completions, not the page")
    parser.add_argument("--key", help="an ASSISTANT_API_KEYS key, for --openai against an app that has them")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="start this many app processes sharing one Chroma server and one PostgreSQL, sessions split between them",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= 100 or not 1 <= args.questions <= 20 or not 0 <= args.asks <= 10_000:
        parser.error("keep it bounded: 1-100 sessions, 1-20 questions, 0-10,000 asks")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.coach_only:
        return coach_soak(args)

    if args.url:
        from assistant.ui import is_loopback

        if not is_loopback(urlparse(args.url).hostname or ""):
            parser.error("--url must be on this machine (127.0.0.1): this script sends hundreds of requests")
        result = run([args.url], args.pid, args)
    else:
        from assistant import Settings

        source = args.data or Settings.from_env().data_dir
        with tempfile.TemporaryDirectory(prefix="load-") as tmp:
            if args.processes > 1:  # they share a Chroma server of their own: no data dir to copy
                result = run_shared(Path(tmp), args)
            else:
                data = Path(tmp) / "data"
                if (source / "chroma").exists():
                    shutil.copytree(source, data, ignore=shutil.ignore_patterns("uploads", "*.log"))
                else:
                    print(f"no index in {source}: the app builds one first (minutes)", flush=True)
                    data.mkdir()
                print("starting the app ...", flush=True)
                with running_app(data, timeout=600) as (url, proc):
                    result = run([url], proc.pid, args)
    print(summary(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    problems = result["load_errors"] + result["load_crosstalk"] + result["soak_errors"] + result["soak_crosstalk"]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
