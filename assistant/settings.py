"""One frozen Settings object, built once and passed explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO_CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _default_data_dir() -> Path:
    return Path.cwd() / ".assistant"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how the assistant answers.

    Args:
        data_dir: folder for the embedded index and state.
        corpus_dir: documents to index (Markdown, .txt, .pdf).
        chroma_url: ``http://host:port`` of a Chroma server; None uses the embedded store.
        llm: answer backend name (``extractive`` needs no model).
        llm_url: base URL of the ``ollama`` or ``openai`` (OpenAI-compatible) server.
        top_k: passages retrieved per answer.
        relevance_floor: cosine similarity the best passage needs for a question to be in
            scope (measured on eval/data: 0.32 refuses every out-of-scope question there).
        max_question_chars: longer messages are answered from their beginning.
        diagnose: tell managing from leading when a message describes a situation.
        collection: Chroma collection name (at least 3 characters).
        retention_days: conversations, commitments and feedback older than this are deleted at
            start (0 keeps them).
        database_url: ``postgresql://...`` keeps memory, commitments, feedback and uploads in
            that database, shared by every app process; None keeps SQLite files in the data dir.

    Example:
        >>> Settings(top_k=5).top_k
        5
    """

    data_dir: Path = field(default_factory=_default_data_dir)
    corpus_dir: Path = REPO_CORPUS
    chroma_url: str | None = None
    llm: str = "extractive"
    llm_url: str | None = None
    top_k: int = 5
    relevance_floor: float = 0.32
    max_question_chars: int = 4000
    diagnose: bool = True
    collection: str = "library"
    retention_days: int = 90
    database_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "corpus_dir", Path(self.corpus_dir))
        if not 1 <= self.top_k <= 20:
            raise ValueError(f"top_k must be between 1 and 20, got {self.top_k}")
        if self.retention_days < 0:
            raise ValueError(f"retention_days must be 0 (keep) or more, got {self.retention_days}")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgresql+psycopg://")):
            raise ValueError(f"ASSISTANT_DATABASE_URL must start with postgresql://, got {self.database_url!r}")
        if len(self.collection) < 3:
            raise ValueError("collection names need at least 3 characters")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build Settings from ASSISTANT_* variables, then apply ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("ASSISTANT_DATA_DIR"):
            values["data_dir"] = Path(env["ASSISTANT_DATA_DIR"])
        if env.get("ASSISTANT_CORPUS_DIR"):
            values["corpus_dir"] = Path(env["ASSISTANT_CORPUS_DIR"])
        if env.get("ASSISTANT_CHROMA_URL"):
            values["chroma_url"] = env["ASSISTANT_CHROMA_URL"]
        if env.get("ASSISTANT_LLM"):
            values["llm"] = env["ASSISTANT_LLM"]
        if env.get("ASSISTANT_LLM_URL"):
            values["llm_url"] = env["ASSISTANT_LLM_URL"]
        if env.get("ASSISTANT_TOP_K"):
            try:
                values["top_k"] = int(env["ASSISTANT_TOP_K"])
            except ValueError:
                raise ValueError(f"ASSISTANT_TOP_K must be a whole number, got {env['ASSISTANT_TOP_K']!r}") from None
        if env.get("ASSISTANT_DATABASE_URL"):
            values["database_url"] = env["ASSISTANT_DATABASE_URL"]
        if env.get("ASSISTANT_RETENTION_DAYS"):
            try:
                values["retention_days"] = int(env["ASSISTANT_RETENTION_DAYS"])
            except ValueError:
                raise ValueError(
                    f"ASSISTANT_RETENTION_DAYS must be a whole number, got {env['ASSISTANT_RETENTION_DAYS']!r}"
                ) from None
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]
