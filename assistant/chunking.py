"""Documents -> Chunks: section and sentence aware, with spans and content ids.

A chunk never crosses a section heading and never cuts a sentence; a bullet list stays
in one chunk with the line that introduces it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .types import Chunk, Document, Sentence

MAX_CHARS = 600
# A list whose items are all this short reads as one line ("They focus on: A, B, C.").
SHORT_ITEM = 80
_BLOCK_END = tuple('.!?:"”’)')
_ITEM_MARKER = re.compile(r"\s*(?:[-*+•]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"\*\*|__|`")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
# Lines kept in the document and its passages, never quoted as an answer: navigation, calls to
# action, source tags of playbook options, lead-ins and list intros left without their list.
_NOT_QUOTABLE = re.compile(
    r"^\(from: [\w-]+\)$|^additional resources\b|^schedule your\b|complimentary consultation|watch video|"
    r"coming soon|^click here\b|^subscribe\b|^sign up\b|^contact us\b|^read more\b|^learn more\b|"
    r"^let[’']s (?:break down|take a look|look|dive|explore)\b|:$",
    re.I,
)
# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by space and a capital,
# a digit, a quote or a bracket. Abbreviations like "Dr." are kept inside the sentence.
_SENT_END = re.compile(
    r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\be\.g)(?<!\bi\.e)(?<!\bvs)(?<!\bSt)(?<![A-Z])[.!?][\"”’')\]]*\s+(?=[\"“‘'(\[A-Z0-9])"
)


@dataclass(frozen=True)
class _Unit:
    """An unbreakable run of text: a sentence, or a list with its intro line."""

    start: int
    end: int
    is_list: bool = False


def stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] at sentence ends; spans are trimmed of outer whitespace."""
    spans, cursor = [], start
    for match in _SENT_END.finditer(text, start, end):
        spans.append((cursor, match.start() + len(match.group().rstrip())))
        cursor = match.end()
    spans.append((cursor, end))
    return [_trim(text, a, b) for a, b in spans if text[a:b].strip()]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def heading(line: str) -> tuple[int, str] | None:
    """(level, text) of a Markdown heading line ("## Text ##"), else None.

    Plain string steps, no regular expression: a pattern like ``^(#{1,6})\\s+(.*?)\\s*#*\\s*$``
    backtracks cubically on a line of thousands of spaces and froze the app on one upload.
    """
    stripped = line.rstrip()
    level = len(stripped) - len(stripped.lstrip("#"))
    if not 1 <= level <= 6 or len(stripped) == level or not stripped[level].isspace():
        return None
    return level, stripped[level:].strip().rstrip("#").strip()


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    pos = 0
    for line in text.split("\n"):
        yield pos, pos + len(line), line
        pos += len(line) + 1


def _sections(text: str) -> list[tuple[str, int, int, list[tuple[int, int, str]]]]:
    """(heading, start, end, body lines) per section; the heading line opens its section."""
    sections: list[tuple[str, int, int, list]] = []
    title, start, body = "", 0, []
    for a, b, line in _lines(text):
        found = heading(line)
        if found and (found[0] >= 2 or (not sections and not body)):
            if body or sections:
                sections.append((title, start, a, body))
            title, start, body = found[1], a, []
        else:
            body.append((a, b, line))
    sections.append((title, start, len(text), body))
    return [s for s in sections if text[s[1] : s[2]].strip()]


def _kind(line: str) -> str:
    if _LIST_ITEM.match(line):
        return "list"
    return "quote" if line.lstrip().startswith(">") else "text"


def _units(text: str, lines: list[tuple[int, int, str]], max_chars: int = MAX_CHARS) -> list[_Unit]:
    """Sentences of paragraphs; a short bullet list glued to the line before it; a quote whole; a
    list item of sentences as one unit, so that no chunk boundary cuts an item in two."""
    blocks: list[tuple[int, int, str]] = []  # runs of paragraph, list or quote lines
    ends_block = True
    for a, b, line in lines:
        if not line.strip() or heading(line):
            blocks.append((-1, -1, ""))
            continue
        kind = _kind(line)
        if blocks and blocks[-1][0] >= 0 and blocks[-1][2] == kind and (kind != "text" or not ends_block):
            blocks[-1] = (blocks[-1][0], b, kind)
        else:
            blocks.append((a, b, kind))
        # A wrapped line (as in PDFs) continues its paragraph; a finished sentence or a
        # short title-like line ends it.
        ends_block = line.rstrip().endswith(_BLOCK_END) or len(line.strip()) < 60
    units: list[_Unit] = []
    for a, b, kind in blocks:
        if a < 0:
            continue
        items = [(a + m.start(), a + m.end()) for m in re.finditer(r"[^\n]+", text[a:b])]
        if kind == "quote":
            units.append(_Unit(a, b, True))
        elif kind == "list" and max(e - s for s, e in items) <= SHORT_ITEM:
            intro = units.pop() if units and text[units[-1].start : units[-1].end].rstrip().endswith(":") else None
            units.append(_Unit(intro.start if intro else a, b, True))
        elif kind == "list":  # items that are full sentences are quoted one by one, kept in one chunk
            for s, e in items:
                marker = _ITEM_MARKER.match(text, s)
                spans = sentence_spans(text, marker.end() if marker else s, e)
                if spans and spans[-1][1] - spans[0][0] <= max_chars:
                    units.append(_Unit(spans[0][0], spans[-1][1]))
                else:
                    units.extend(_Unit(x, y) for x, y in spans)
        else:
            units.extend(_Unit(s, e) for s, e in sentence_spans(text, a, b))
    return units


def chunk_document(doc: Document, max_chars: int = MAX_CHARS) -> list[Chunk]:
    """Split a Document into Chunks; ``chunk.text == doc.text[chunk.start:chunk.end]``."""
    text = doc.text
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for title, sec_start, _sec_end, lines in _sections(text):
        units = _units(text, lines, max_chars)
        groups: list[list[_Unit]] = []
        for unit in units:
            if groups and unit.end - groups[-1][0].start <= max_chars:
                groups[-1].append(unit)
            else:
                groups.append([unit])
        for i, group in enumerate(groups):
            # The first chunk of a section carries its heading line.
            start = sec_start if i == 0 and title else group[0].start
            end = group[-1].end
            body = text[start:end]
            key = stable_id(doc.doc_id, body)
            n = seen.get(key, 0)
            seen[key] = n + 1
            chunk_id = key if n == 0 else stable_id(doc.doc_id, body, str(n))
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc.doc_id,
                    title=doc.title,
                    section=title or doc.title,
                    text=body,
                    start=start,
                    end=end,
                    doc_hash=doc.content_hash,
                )
            )
    return chunks


def chunk_sentences(doc_text: str, chunk: Chunk) -> list[Sentence]:
    """The quotable sentences of a chunk (headings left out; a list reads as one line)."""
    lines = [(a + chunk.start, b + chunk.start, line) for a, b, line in _lines(doc_text[chunk.start : chunk.end])]
    out = []
    for unit in _units(doc_text, lines):
        raw = doc_text[unit.start : unit.end]
        shown = _list_as_line(raw) if unit.is_list else " ".join(raw.split())
        shown = _EMPHASIS.sub("", shown)
        if len(shown) < 12 or not quotable(shown):
            continue
        out.append(
            Sentence(
                sentence_id=stable_id(chunk.chunk_id, str(unit.start)),
                chunk_id=chunk.chunk_id,
                doc_id=chunk.doc_id,
                text=shown,
                start=unit.start,
                end=unit.end,
            )
        )
    return out


# Words that carry no claim of their own: a sentence made only of these ("There's actually a big
# difference between the two.") announces content without giving any.
_EMPTY_WORDS = frozenset(
    "the and but for with from are was were been being its it's this that these those there there's here "
    "what which who how why when where you she they them their our your not than then too very just also "
    "really actually quite more most much many lot lots big huge real clear important thing things "
    "difference differences between two both one other another same different way ways kind sort does "
    "did have has had can could will would should may might must let let's about into over some any all".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def quotable(sentence: str) -> bool:
    """Whether a sentence can stand in a reply as a quote: not a line of page furniture (see
    _NOT_QUOTABLE), and saying something (a sentence of four words or more needs two beyond
    _EMPTY_WORDS; scripts written without spaces make one long word, and pass)."""
    head = sentence.strip()[:300]
    if _NOT_QUOTABLE.search(head):
        return False
    words = _WORD.findall(head.lower().replace("’", "'"))
    return len(words) < 4 or len([w for w in words if len(w) > 2 and w not in _EMPTY_WORDS]) >= 2


def _list_as_line(raw: str) -> str:
    """'They focus on:\\n- Planning\\n- Organizing' -> 'They focus on: Planning, Organizing.'

    A block quote reads as its lines joined, the attribution after a dash.
    """
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    if lines and lines[0].startswith(">"):
        lines = [line.lstrip("> ").strip() for line in lines]
        return " — ".join(line for line in lines if line)
    intro, items = [], []
    for line in lines:
        if _LIST_ITEM.match(line):
            items.append(_LIST_ITEM.sub("", line).strip().rstrip(".;,"))
        else:
            intro.append(line)
    joined = ", ".join(i for i in items if i)
    return (" ".join(intro) + " " + joined + ".").strip()
