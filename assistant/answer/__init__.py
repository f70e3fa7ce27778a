"""Backends that turn retrieved passages into a cited reply, chosen by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..settings import Settings
    from ..types import Reply
    from .context import Context


class Backend(Protocol):
    """Turns a Context (question, passages, diagnosis) into a Reply."""

    name: str

    def compose(self, context: Context) -> Reply: ...

    def stream(self, context: Context) -> Iterator[Reply]: ...


def _extractive(spec: str, settings: Settings) -> Backend:
    from .extractive import ExtractiveBackend

    return ExtractiveBackend()


def _llamacpp(spec: str, settings: Settings) -> Backend:
    from .llm import llamacpp

    return llamacpp(spec, settings)


def _ollama(spec: str, settings: Settings) -> Backend:
    from .llm import ollama

    return ollama(spec, settings)


def _openai(spec: str, settings: Settings) -> Backend:
    from .llm import openai

    return openai(spec, settings)


BACKENDS: dict[str, Callable[[str, Settings], Backend]] = {
    "extractive": _extractive,
    "llamacpp": _llamacpp,
    "ollama": _ollama,
    "openai": _openai,
}


def make_backend(settings: Settings) -> Backend:
    """Build the backend named by ``settings.llm`` (``name`` or ``name:argument``)."""
    name, _, argument = settings.llm.partition(":")
    factory = BACKENDS.get(name.strip().lower())
    if factory is None:
        raise ValueError(f"unknown ASSISTANT_LLM {settings.llm!r}; choose one of: {', '.join(sorted(BACKENDS))}")
    return factory(argument, settings)
