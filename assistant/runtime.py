"""MiniLM on onnxruntime, so that answering never imports torch.

Graphs are exported once with torch: the packaged model (every layer's mean-pooled state, and
the token states after layer SPLIT), and the fine-tuned layers above it (the reader's, the card
matcher's). They are written to a cache folder (``ASSISTANT_CACHE_DIR``, else
``~/.cache/leadership-coach``) under a name keyed by the files they come from, and every later
start only loads them (about 0.3 s, against 4-5 s for torch and sentence-transformers). Tokens
come from the model's own tokenizer.json.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

SPLIT = 4  # the graph hands out the token states after this layer (the reader fine-tunes above it)
MAX_TOKENS = 256  # the packaged model's max_seq_length
EXPORT_VERSION = "1"  # bump when what the graphs compute changes
_export_lock = threading.Lock()


def cache_dir() -> Path:
    if os.environ.get("ASSISTANT_CACHE_DIR"):
        return Path(os.environ["ASSISTANT_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "leadership-coach"


def _key(*files: Path) -> str:
    digest = hashlib.sha256(EXPORT_VERSION.encode())
    for file in files:
        stat = Path(file).stat()
        digest.update(f"{Path(file).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _graph(name: str, source: Path, export: Callable[[Path], None]) -> Any:
    """An onnxruntime session on the graph ``name`` made from ``source``, exported first when the
    cache does not have it yet (once, whatever the threads asking)."""
    path = cache_dir() / f"{name}-{_key(source)}.onnx"
    if not path.exists():
        with _export_lock:
            if not path.exists():
                export(path)
    return _session(path)


def _session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = min(4, os.cpu_count() or 1)
    options.log_severity_level = 3
    # Threads that spin after a run take the cores from the next graph and from numpy: three
    # graphs each keep a pool.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _export(path: Path, module: Any, args: tuple, inputs: list[str], outputs: list[str], axes: dict) -> None:
    """Export ``module`` to ``path`` atomically (a half-written file is never loaded)."""
    import warnings

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixes as constants
            torch.onnx.export(
                module.eval(),
                args,
                str(partial),
                input_names=inputs,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


class Encoder:
    """The packaged MiniLM as an onnxruntime session: ``run(texts)`` gives (pooled layers, token
    states after layer SPLIT, mask), all numpy."""

    def __init__(self, model_dir: str, torch_model: Any = None) -> None:
        from tokenizers import Tokenizer

        weights = Path(model_dir) / "model.safetensors"
        self.session = _graph("minilm", weights, lambda path: self._export(path, torch_model))
        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @staticmethod
    def _export(path: Path, torch_model: Any) -> None:
        import torch

        model = torch_model()[0].auto_model

        class Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple:
                states = self.model(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                    output_hidden_states=True,
                ).hidden_states
                weights = attention_mask.unsqueeze(-1).float()
                pooled = torch.cat([(h * weights).sum(1) / weights.sum(1) for h in states], dim=-1)
                return pooled, states[SPLIT]

        ids = torch.tensor([[101, 7592, 2045, 102], [101, 7592, 102, 0]])
        mask = (ids > 0).long()
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "states"]} | {"layers": {0: "batch"}}
        _export(path, Graph(), (ids, mask, torch.zeros_like(ids)), names, ["layers", "states"], axes)

    def run(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        layers, states = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        return layers, states, mask


class Top:
    """Fine-tuned layers (the reader's, the card matcher's) as an onnxruntime session: token states
    after layer SPLIT and their mask in, the unit-length mean-pooled output out."""

    def __init__(self, weights: Path, torch_top: Any, name: str = "reader") -> None:
        self.session = _graph(name, weights, lambda path: self._export(path, torch_top()))

    @staticmethod
    def _export(path: Path, top: Any) -> None:
        import torch

        class Graph(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.layers = top.layers

            def forward(self, states: Any, mask: Any) -> Any:
                return top.pooled(states, mask)

        states, mask = torch.zeros(2, 5, 384), torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        axes = {"states": {0: "batch", 1: "tokens"}, "mask": {0: "batch", 1: "tokens"}, "pooled": {0: "batch"}}
        _export(path, Graph(), (states, mask), ["states", "mask"], ["pooled"], axes)

    def pooled(self, states: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"states": states.astype(np.float32), "mask": mask.astype(np.int64)})[0]
