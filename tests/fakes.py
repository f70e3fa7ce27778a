"""Stand-ins shared by several tests, for the parts a test must control: a chat model that says
what the test scripts, a model that must not be called, an embedding with known geometry, a
system that records what it was given. Everything else in the tests is the real thing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant import Citation, Reply


def cite(index: int, doc_id: str = "mvl", text: str = "Managers plan the work.") -> Citation:
    return Citation(index, doc_id, "Title", "Section", text, 0.5)


def scripted(text: str) -> GenericFakeChatModel:
    """A chat model that streams ``text`` word by word (no model decides what a test checks)."""
    return GenericFakeChatModel(messages=iter([AIMessage(text)]))


class Unreachable:
    """A chat model that must not be called."""

    def stream(self, messages: object) -> Iterator[object]:
        raise AssertionError("the model was called")


def fake_embed(texts: list[str]) -> np.ndarray:
    """Each distinct first word gets its own axis: same first word, cosine 1; else 0."""
    axes = {"plan": 0, "lead": 1, "vision": 2}
    out = np.zeros((len(texts), 3), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i, axes[text.split()[0].lower()]] = 1.0
    return out


class Recorder:
    """A system that cites document "a" only when it was given history."""

    def __init__(self) -> None:
        self.histories: list[list[dict]] = []

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        return []

    def ask(self, question: str, history: list[dict] | None = None) -> Reply:
        self.histories.append(list(history or []))
        return Reply(f"{question} [1]", [cite(1, "a" if history else "b")], True)
