"""The naive LangChain RAG the assistant is measured against: split, embed, top passage."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from assistant import Citation, Reply
from assistant.corpus import load_corpus

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
ANSWER_K = 4


def langchain_embeddings(embed: Any) -> Any:
    """Wrap an ``embed(list[str]) -> array`` function as LangChain ``Embeddings``."""
    from langchain_core.embeddings import Embeddings

    class Wrapped(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in embed(list(texts))]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    return Wrapped()


class NaiveRag:
    """RecursiveCharacterTextSplitter chunks in Chroma; the answer is the top passage, cited [1].

    Args:
        corpus_dir: the same corpus the assistant indexes.
        embed: the assistant's embedding function (``coach.embedder.embed``).
        persist_dir: its own Chroma folder; a temporary one by default.
    """

    name = "naive baseline"

    def __init__(self, corpus_dir: Path, embed: Any, persist_dir: Path | None = None) -> None:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self._tmp = None if persist_dir else tempfile.TemporaryDirectory(prefix="naive-rag-")
        folder = str(persist_dir or self._tmp.name)  # type: ignore[union-attr]
        docs, _ = load_corpus(corpus_dir)
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        self.chunks = splitter.split_documents(
            [Document(page_content=d.text, metadata={"doc_id": d.doc_id, "title": d.title}) for d in docs]
        )
        self.store = Chroma(
            collection_name="naive-baseline",
            embedding_function=langchain_embeddings(embed),
            persist_directory=folder,
            client_settings=chromadb.config.Settings(anonymized_telemetry=False, is_persistent=True),
        )
        self.store.add_documents(self.chunks, ids=[f"c{i}" for i in range(len(self.chunks))])

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        """The ``k`` nearest chunks as ``(doc_id, text)``."""
        return [(d.metadata["doc_id"], d.page_content) for d in self.store.similarity_search(query, k=k)]

    def ask(self, question: str, history: list[dict] | None = None) -> Reply:
        """The top passage of a top-4 search, as a reply citing it; it never refuses."""
        found = self.store.similarity_search(question, k=ANSWER_K)
        if not found:
            return Reply("", [], True, query=question)
        top = found[0]
        cite = Citation(1, top.metadata["doc_id"], top.metadata.get("title", ""), "", top.page_content, 0.0)
        return Reply(f"{top.page_content} [1]", [cite], True, query=question)

    def close(self) -> None:
        """Remove the temporary Chroma folder, if this baseline made one."""
        if self._tmp is not None:
            self._tmp.cleanup()
