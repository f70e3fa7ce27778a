"""Command line: python -m assistant ingest [PATH] | ask "..." | chat."""

from __future__ import annotations

import argparse
import logging
import sys

from . import Coach, Reply, Settings


def render(reply: Reply) -> str:
    """A reply as plain text with numbered sources under it."""
    lines = [reply.text]
    if reply.citations:
        lines.append("\nSources:")
        for c in reply.citations:
            lines.append(f"  [{c.index}] {c.title} — {c.section} ({c.doc_id})")
    return "\n".join(lines)


def _ingest(coach: Coach, path: str | None) -> int:
    report = coach.ingest(path, progress=None, remove=True)  # the one place the library is ingested from
    for problem in coach.problems:
        print(f"warning: {problem}", file=sys.stderr)
    total = len(report.added) + len(report.updated) + len(report.unchanged)
    print(
        f"{total} documents in the library: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged "
        f"({report.records_written} records written, {report.records_deleted} deleted)."
    )
    return 0


def _ask(coach: Coach, question: str) -> int:
    try:
        print(render(coach.ask(question)))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _chat(coach: Coach) -> int:
    print("Describe a situation from your week, or ask about managing and leading. Type 'quit' to stop.")
    history: list[dict] = []
    while True:
        try:
            message = input("\nyou> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if message.strip().lower() in {"quit", "exit", ":q"}:
            return 0
        if not message.strip():
            print("Type a question, or describe something you did this week.")
            continue
        reply = coach.ask(message, history=history)
        print("\ncoach> " + render(reply))
        history += [{"role": "user", "content": message}, {"role": "assistant", "content": reply.text}]


def _export_feedback(coach: Coach, target: str) -> int:
    if target == "-":
        n = coach.feedback.export(sys.stdout)
    else:
        with open(target, "w", encoding="utf-8") as out:
            n = coach.feedback.export(out)
    print(f"{n} feedback records exported", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="index the corpus (and add PATH to the library)")
    ingest.add_argument("path", nargs="?", help="a folder or file of .md, .txt or .pdf documents to add")
    ask = sub.add_parser("ask", help="ask one question and print the cited answer")
    ask.add_argument("question")
    sub.add_parser("chat", help="a conversation in the terminal")
    feedback = sub.add_parser("feedback", help="the thumbs up and down people gave replies")
    feedback.add_argument(
        "--export",
        metavar="FILE",
        nargs="?",
        const="-",
        required=True,
        help="write them as JSON lines to FILE (default: standard output)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        coach = Coach(Settings.from_env())
        if args.command == "ingest":
            return _ingest(coach, args.path)
        if args.command == "feedback":
            return _export_feedback(coach, args.export)
        if args.command == "ask":
            return _ask(coach, args.question)
        return _chat(coach)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
