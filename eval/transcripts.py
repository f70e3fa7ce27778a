"""Replies to the dev set, written out for a reader who judges them on ../shared/RUBRIC.md.

python -m eval.transcripts [--data eval/data/dev.jsonl] [--out eval/results/transcripts.md]

Each case's turns go through one conversation (each turn sees the earlier ones). The file
shows the messages, the replies and, under each reply, what its markers cite (the cited
sentence and its passage), so the reader can check grounding. The case's "good" note is
left out: the reader judges what a manager would.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from assistant import Coach, Reply

DATA = Path(__file__).resolve().parent / "data" / "dev.jsonl"
PASSAGE_CHARS = 1200


def cited(reply: Reply) -> list[str]:
    lines = []
    for c in reply.citations:
        passage = " ".join(c.text.split())[:PASSAGE_CHARS]
        lines.append(f"  - [{c.index}] {c.title} / {c.section}: cited sentence “{c.quote}” — passage: “{passage}”")
    return lines


def run_case(coach: Coach, case: dict) -> tuple[list[str], list[float]]:
    history: list[dict] = []
    lines = [f"## {case['id']} ({case['kind']})", ""]
    times = []
    for turn, message in enumerate(case["turns"], 1):
        started = time.perf_counter()
        reply = coach.ask(message, history=history)
        times.append(time.perf_counter() - started)
        lines += [f"**Message {turn}:** {message}", "", f"**Reply {turn}:**", "", reply.text, ""]
        if reply.citations:
            lines += ["Citations:", *cited(reply), ""]
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]
    return lines, times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=Path("eval/results/transcripts.md"))
    args = parser.parse_args(argv)
    cases = [json.loads(line) for line in args.data.open(encoding="utf-8") if line.strip()]
    coach = Coach()
    out = ["# Replies to judge", ""]
    for case in cases:
        lines, _ = run_case(coach, case)
        out += lines
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {args.out} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
