"""A coaching session: the conversation, its commitments and its summary, remembered."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .memory import Commitment, MemoryStore
from .types import Reply

if TYPE_CHECKING:
    from .coach import Coach

_SUMMARY = re.compile(r"\b(summari[sz]e|summary|recap)\b", re.I)


def commitment_text(message: str, limit: int = 300) -> str:
    """The commitment as it is remembered: the message's first lines, without closing punctuation."""
    return " ".join(message.split())[:limit].rstrip(" .!")


def asks_for_summary(message: str) -> bool:
    return bool(_SUMMARY.search(message)) and len(message.split()) <= 12


class Session:
    """One person's conversation with the coach, kept in the data dir.

    Example:
        >>> session = Coach().session("sam")
        >>> session.ask("This week I will let Priya run the stand-up.").text
        >>> Coach().session("sam").commitments()[0].text   # after a restart
        'This week I will let Priya run the stand-up'
    """

    def __init__(self, coach: Coach, session_id: str, store: MemoryStore) -> None:
        if not session_id or not session_id.strip():
            raise ValueError("a session needs an id")
        self.coach = coach
        self.id = session_id
        self.store = store

    @property
    def history(self) -> list[dict]:
        """The conversation as {"role", "content"} turns."""
        return [{"role": t["role"], "content": t["content"]} for t in self.store.turns(self.id)]

    def commitments(self) -> list[Commitment]:
        return self.store.commitments(self.id)

    def ask(self, message: str, **options: object) -> Reply:
        """Like ``Coach.ask``, with this session's history, remembering the turn."""
        *_, final = self.stream(message, **options)
        return final

    def stream(self, message: str, history: list[dict] | None = None, **options: object) -> Iterator[Reply]:
        """Like ``Coach.stream``; the final reply is remembered with any commitment in it.

        ``history`` defaults to everything this session remembers. The message is remembered as
        the coach reads it (no control characters or lone surrogates); an empty one raises
        ValueError before anything is remembered.
        """
        from .coach import clean_message  # the coach module imports this one

        message, _ = clean_message(message, max(len(message), 1) if isinstance(message, str) else 1)
        if asks_for_summary(message):
            reply = Reply(self.summary(), [], True, query=message, intent="question")
        else:
            reply = None
            history = self.history if history is None else history
            for reply in self.coach.stream(message, history=history, **options):  # type: ignore[arg-type]
                if reply.partial:
                    yield reply
            assert reply is not None
        if reply.intent == "commitment":
            self.store.add_commitment(self.id, commitment_text(message))
        self.store.add_turn(self.id, "user", message)
        self.store.add_turn(self.id, "assistant", reply.text, reply)
        yield reply

    def summary(self) -> str:
        """The situation, the diagnosis, the options discussed with their sources, the commitments."""
        turns = self.store.turns(self.id)
        replies = [t["reply"] for t in turns if t["reply"]]
        diagnosed = [(t, r) for t, r in zip([t for t in turns if t["role"] == "user"], replies) if r["diagnosis"]]
        lines = ["## Session summary", ""]
        if diagnosed:
            situation, first = diagnosed[0]
            d = first["diagnosis"]
            drivers = [f["name"] for f in d["facets"] if d["lean"] == "balanced" or f["side"] == d["lean"]][:2]
            lean = {"management": "managing", "leadership": "leading"}.get(d["lean"], "a balance of both")
            lines += [
                f"**Situation:** {situation['content']}",
                "",
                f"**Diagnosis:** leans to {lean} ({d['management']:.0%} managing), mostly {' and '.join(drivers)}.",
                "",
            ]
        else:
            lines += ["**Situation:** none described yet.", ""]
        sources = []
        for r in replies:
            for c in r["citations"]:
                item = f"- {c['quote'] or c['title']} ({c['title']} — {c['section']})"
                if item not in sources:
                    sources.append(item)
        lines += ["**Options discussed:**", *(sources[:8] or ["- none yet"]), ""]
        commitments = self.commitments()
        lines += ["**Commitments:**", *([f"- {c.text}" for c in commitments] or ["- none yet"])]
        return "\n".join(lines)
