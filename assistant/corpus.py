"""Corpus files -> Documents: Markdown with YAML front matter, plain text and PDF."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

from .types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".md", ".markdown", ".txt", ".pdf")
MAX_FILE_BYTES = 20 * 1024 * 1024
# Files one upload request may carry (Gradio's own parser takes up to 1,000).
MAX_FILES_PER_UPLOAD = 10
# What an upload may expand to: a PDF whose pages share one compressed stream turned 9 KB into
# 5.9 MB of text (16 minutes of embedding). 400,000 characters is about 200 pages, a minute or
# two of indexing on two cores.
MAX_UPLOAD_CHARS = 400_000
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)
_SAFE_ID = re.compile(r"[^a-z0-9]+")


class CorpusError(ValueError):
    """A file that cannot be used as a document; the message names the file and why."""


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remove_folder(folder: Path) -> int:
    """Delete ``folder`` and everything in it (gone already is fine); how many files it held."""
    files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
    shutil.rmtree(folder, ignore_errors=True)
    return files


def digest(text: str) -> str:
    """A stable hex digest of ``text``: a key no two different strings share in practice."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def slug(name: str) -> str:
    return _SAFE_ID.sub("-", name.lower()).strip("-") or "document"


def corpus_files(root: Path) -> list[Path]:
    """The documents under ``root`` (a folder or one file), README files left out."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and p.stem.lower() != "readme"
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def load_document(path: Path) -> Document:
    """Read one file; raise CorpusError (naming the file) when it cannot be used."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CorpusError(f"{path.name}: larger than 20 MB ({size / 1e6:.0f} MB)")
        data = path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, meta = _pdf_text(path, data), {}
    elif suffix in SUFFIXES:
        try:
            raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CorpusError(f"{path.name}: not UTF-8 text") from exc
        if "\x00" in raw:
            raise CorpusError(f"{path.name}: binary content, not text")
        text, meta = _split_front_matter(path, raw) if suffix != ".txt" else (raw, {})
    else:
        raise CorpusError(f"{path.name}: unsupported file type {suffix or '(none)'}; use .md, .txt or .pdf")
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise CorpusError(f"{path.name}: no text in it")
    doc_id = str(meta.get("id") or slug(path.stem))
    title = str(meta.get("title") or _first_heading(text) or path.stem.replace("-", " ").replace("_", " "))
    return Document(
        doc_id=doc_id,
        title=title,
        text=text,
        path=str(path),
        metadata=meta,
        content_hash=content_hash(data),
    )


def load_corpus(root: Path) -> tuple[list[Document], list[str]]:
    """Load every document under ``root``.

    Returns the documents and one warning per file that was skipped; a bad file
    never stops the rest from loading.
    """
    docs: list[Document] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for path in corpus_files(root):
        try:
            doc = load_document(path)
        except CorpusError as exc:
            problems.append(f"skipped {exc}")
            continue
        if doc.doc_id in seen:
            problems.append(f"skipped {path.name}: id {doc.doc_id!r} is already used by {seen[doc.doc_id]}")
            continue
        seen[doc.doc_id] = path.name
        docs.append(doc)
    for problem in problems:
        log.warning(problem)
    return docs, problems


def _split_front_matter(path: Path, raw: str) -> tuple[str, dict]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return raw, {}
    import yaml

    try:
        # libyaml's loader when the wheel has it: ten times faster on the playbook's long front matter.
        meta = yaml.load(match.group(1), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as exc:
        raise CorpusError(f"{path.name}: front matter is not valid YAML ({exc.__class__.__name__})") from exc
    if not isinstance(meta, dict):
        raise CorpusError(f"{path.name}: front matter must be a mapping of fields")
    return raw[match.end() :], meta


def _pdf_text(path: Path, data: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, OSError, TypeError) as exc:
        raise CorpusError(f"{path.name}: unreadable PDF ({exc.__class__.__name__})") from exc
    return "\n\n".join(p.strip() for p in pages if p.strip())


def _first_heading(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def save_upload(source: Path, folder: Path) -> Path:
    """Copy an uploaded file into ``folder`` under a safe name, once it is known to be readable.

    The name keeps only its last part, reduced to letters, digits and dashes, so a name
    like ``../../etc/passwd`` cannot leave the folder.
    """
    suffix = source.suffix.lower()
    if suffix not in SUFFIXES:
        raise CorpusError(f"{source.name}: unsupported file type {suffix or '(none)'}; use .md, .txt or .pdf")
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise CorpusError(f"{source.name}: cannot be read ({exc.strerror or exc})") from exc
    if size > MAX_FILE_BYTES:
        raise CorpusError(f"{source.name}: larger than 20 MB ({size / 1e6:.0f} MB)")
    if size == 0:
        raise CorpusError(f"{source.name}: the file is empty")
    folder.mkdir(parents=True, exist_ok=True)
    # The readable part of the name, then a digest of the whole name: "notes.md" and "notes.txt",
    # or two names of other scripts that reduce to the same letters, never overwrite each other.
    name = f"{slug(Path(source.name).stem)[:60]}-{digest(source.name)[:8]}{suffix}"
    incoming = folder / f".incoming-{name}"  # hidden: never read as a document
    shutil.copyfile(source, incoming)
    try:
        doc = load_document(incoming)
        if len(doc.text) > MAX_UPLOAD_CHARS:
            raise CorpusError(
                f"{source.name}: its text is {len(doc.text):,} characters, more than the {MAX_UPLOAD_CHARS:,} "
                "an upload may have (about 200 pages); upload the part you need"
            )
    except CorpusError as exc:
        incoming.unlink(missing_ok=True)
        raise CorpusError(str(exc).replace(incoming.name, source.name)) from None
    target = folder / name
    incoming.replace(target)
    return target
