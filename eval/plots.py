"""PNG figures for the report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def support_histogram(scores: list[float], path: Path, above: float = 0.5) -> Path:
    """Histogram of cited-claim support (cosine to the cited passage)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(scores, bins=np.linspace(0, 1, 21), color="#4c72b0", edgecolor="white")
    ax.axvline(above, color="#c44e52", linestyle="--", label=f"{above}")
    ax.set(xlabel="cosine(claim, cited passage)", ylabel="cited claims", title=f"Citation support (n={len(scores)})")
    ax.legend()
    return _save(fig, path)


def relevance_histogram(ours: list[float], baseline: list[float], path: Path) -> Path:
    """Answer relevance distributions, ours over the baseline's."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = np.linspace(-0.1, 1, 23)
    ax.hist(baseline, bins=bins, alpha=0.6, label="naive RAG", color="#dd8452")
    ax.hist(ours, bins=bins, alpha=0.6, label="ours", color="#4c72b0")
    ax.set(xlabel="cosine(question, answer)", ylabel="answers", title="Answer relevance")
    ax.legend()
    return _save(fig, path)


def retrieval_bars(ours: dict[str, float | None], baseline: dict[str, float | None], path: Path) -> Path:
    """Retrieval metrics side by side."""
    plt = _pyplot()
    keys = list(ours)
    x = np.arange(len(keys))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(x - 0.2, [ours[k] or 0 for k in keys], 0.4, label="ours", color="#4c72b0")
    ax.bar(x + 0.2, [baseline[k] or 0 for k in keys], 0.4, label="naive RAG", color="#dd8452")
    ax.set_xticks(x, keys)
    ax.set(ylim=(0, 1), title="Retrieval")
    ax.legend()
    return _save(fig, path)


def latency_bars(latency: dict[str, dict[str, float | None]], path: Path) -> Path:
    """p50 and p95 milliseconds per stage of our pipeline."""
    plt = _pyplot()
    stages = list(latency)
    x = np.arange(len(stages))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(x - 0.2, [latency[s]["p50"] or 0 for s in stages], 0.4, label="p50", color="#55a868")
    ax.bar(x + 0.2, [latency[s]["p95"] or 0 for s in stages], 0.4, label="p95", color="#c44e52")
    ax.set_xticks(x, stages)
    ax.set(ylabel="ms", title="Latency per stage")
    ax.legend()
    return _save(fig, path)


def confusion(matrix: dict[str, dict[str, int]], path: Path, title: str) -> Path:
    """A diagnosis confusion matrix as a heat map (rows truth, columns predicted)."""
    plt = _pyplot()
    truths, predicted = list(matrix), list(next(iter(matrix.values())))
    values = np.array([[matrix[t][p] for p in predicted] for t in truths])
    fig, ax = plt.subplots(figsize=(5, 2.8))
    ax.imshow(values, cmap="Blues")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, str(v), ha="center", va="center", color="black" if v < values.max() / 2 else "white")
    ax.set_xticks(range(len(predicted)), predicted)
    ax.set_yticks(range(len(truths)), truths)
    ax.set(xlabel="predicted", ylabel="truth", title=title)
    return _save(fig, path)


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path
