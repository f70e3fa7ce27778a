"""Optional LLM-as-judge scores (ragas faithfulness and answer relevancy); never required."""

from __future__ import annotations

import os
from typing import Any

from assistant import Reply

from . import metrics

LIMIT = 20


def backend_spec() -> str | None:
    """The ASSISTANT_LLM judge backend, None when there is none (unset or extractive)."""
    spec = os.environ.get("ASSISTANT_LLM", "").strip()
    return spec if spec and spec.lower() != "extractive" else None


def chat_model(spec: str) -> Any:
    """A LangChain chat model for ``ollama:MODEL``, ``openai:MODEL`` or ``llamacpp:PATH``."""
    name, _, argument = spec.partition(":")
    name = name.strip().lower()
    if name == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=argument, temperature=0)
    if name == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=argument, temperature=0)
    if name == "llamacpp":
        from langchain_community.chat_models import ChatLlamaCpp

        return ChatLlamaCpp(model_path=argument, n_ctx=4096, n_threads=2, temperature=0, verbose=False)
    raise ValueError(f"no judge for ASSISTANT_LLM={spec!r}")


def judge(replies: list[tuple[str, Reply]], embeddings: Any, limit: int = LIMIT) -> dict[str, Any]:
    """Ragas scores for up to ``limit`` ``(question, reply)`` pairs, or why they were skipped.

    Returns ``{"status": "ok" | "skipped", "reason": ..., "faithfulness": ..., "answer_relevancy": ...}``.
    """
    spec = backend_spec()
    if spec is None:
        return {"status": "skipped", "reason": "--judge needs an LLM backend: set ASSISTANT_LLM (not extractive)"}
    try:
        import ragas
        from ragas.embeddings import LangchainEmbeddingsWrapper
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics import Faithfulness, ResponseRelevancy
    except ImportError as exc:
        return {"status": "skipped", "reason": f"ragas is not installed ({exc})"}
    rows = [
        {
            "user_input": question,
            "response": metrics.strip_markers(reply.text),
            "retrieved_contexts": [c.text for c in reply.citations] or [""],
        }
        for question, reply in replies[:limit]
    ]
    try:
        llm = LangchainLLMWrapper(chat_model(spec))
        result = ragas.evaluate(
            ragas.EvaluationDataset.from_list(rows),
            metrics=[Faithfulness(), ResponseRelevancy()],
            llm=llm,
            embeddings=LangchainEmbeddingsWrapper(embeddings),
            show_progress=False,
        )
        frame = result.to_pandas()
    except Exception as exc:  # a judge that cannot run must not sink the evaluation
        return {
            "status": "skipped",
            "reason": f"the judge model {spec!r} could not run: {exc.__class__.__name__}: {exc}",
        }
    scores = {
        key: metrics.mean([float(v) for v in frame[column] if v == v])  # NaN != NaN: drop failed rows
        for key, column in (("faithfulness", "faithfulness"), ("answer_relevancy", "answer_relevancy"))
        if column in frame
    }
    return {"status": "ok", "model": spec, "n": len(rows), **scores}
