"""What the page shows, as HTML or Markdown strings: pure functions, no gradio.

Everything quoted (documents, the person's message) is escaped, so markup shows as text.
"""

from __future__ import annotations

import html
import re

from ..types import Citation, Diagnosis, Reply

_MARKER = re.compile(r"\[(\d{1,3})\]")
_MARKUP = re.compile(r"(^|\n)(?:#{1,6} |&gt; ?)", re.M)
LEAN_LABEL = {"management": "Leans to managing", "leadership": "Leans to leading", "balanced": "Balanced"}


def inert(text: str) -> str:
    """Escaped text in which Markdown finds no image, link or bare address to render: quoted
    documents must never make the browser fetch anything. The entities read as the same characters."""
    return text.replace("](", "&#93;(").replace("://", ":&#47;&#47;").replace("www.", "www&#46;")


def linked(text: str, turn: int) -> str:
    """Reply text (escaped) made inert, then each marker [n] turned into a link to its source card."""
    return _MARKER.sub(lambda m: f"[[{m.group(1)}]](#source-{turn}-{m.group(1)})", inert(text))


def highlighted(c: Citation) -> str:
    """The passage as HTML with the cited sentence in <mark>."""
    before, quote, after = c.text[: c.quote_start], c.text[c.quote_start : c.quote_end], c.text[c.quote_end :]
    mark = f"<mark>{html.escape(quote)}</mark>" if quote else ""
    shown = inert(html.escape(before) + mark + html.escape(after)).replace("**", "")
    # Markdown headings and bullets read as plain lines in the card.
    return _MARKUP.sub(r"\1", shown).replace("\n", "<br>")


def source_title(c: Citation) -> str:
    """ "Title — Section", or the title alone when the passage sits under the document's own title."""
    if not c.section or c.section.strip().lower() == c.title.strip().lower():
        return c.title
    return f"{c.title} — {c.section}"


def _cards(citations: list[Citation], turn: int, open_first: bool = False) -> list[str]:
    return [
        f'<details class="source-card" id="source-{turn}-{c.index}"{" open" if open_first and i == 0 else ""}>'
        f"<summary>[{c.index}] {html.escape(source_title(c))}</summary>"
        f"<p>{highlighted(c)}</p></details>"
        for i, c in enumerate(citations)
    ]


def sources_html(citations: list[Citation], turn: int, earlier: list[tuple[int, list[Citation]]] = ()) -> str:
    """The cards of the side panel: this reply's sources, then those of earlier replies.

    Every card keeps its id ``source-TURN-N``, so a marker of any reply still on screen opens its card.
    """
    if not citations and not any(cited for _, cited in earlier):
        return "<p>No sources yet: ask a question and the passages it cites appear here.</p>"
    parts = _cards(citations, turn) if citations else ["<p>This reply cites nothing.</p>"]
    for number, cited in sorted(earlier, reverse=True):
        if cited:
            parts.append(f'<p class="earlier">Reply {number}</p>')
            parts += _cards(cited, number)
    return "\n".join(parts)


def turns_sources_html(turns: list[dict]) -> str:
    """The side panel for a conversation: the newest reply's sources first."""
    if not turns:
        return sources_html([], 0)
    numbered = [(i, t["reply"].citations) for i, t in enumerate(turns, 1)]
    last, cited = numbered[-1]
    return sources_html(cited, last, numbered[:-1])


def sources_markdown(citations: list[Citation]) -> str:
    """The sources box under a reply: title, section and the passage, cited sentence marked."""
    return "\n\n---\n\n".join(f"**[{c.index}] {html.escape(source_title(c))}**\n\n{highlighted(c)}" for c in citations)


def diagnosis_html(d: Diagnosis | None) -> str:
    """Management vs leadership as a bar, the top facets as meters with a legend, and the evidence."""
    if d is None:
        return "<p>Describe a situation from your week to see whether it leans to managing or leading.</p>"
    m, lead = round(d.management * 100), round(d.leadership * 100)
    label = LEAN_LABEL[d.lean]
    rows = "".join(
        f'<li><span>{f.name}</span><span class="meter"><span class="side-{f.side}" '
        f'style="width:{f.score * 100:.0f}%"></span></span><span>{f.score:.0%}</span></li>'
        for f in d.facets[:5]
    )
    evidence = "".join(f"<li>“{html.escape(e)}”</li>" for e in d.evidence)
    return (
        f'<div class="diag" role="img" aria-label="{label}: {m}% managing, {lead}% leading">'
        f"<p><strong>{label}</strong></p>"
        f'<div class="bar"><span class="m" style="width:{m}%"></span>'
        f'<span class="l" style="width:{lead}%"></span></div>'
        f'<p class="shares"><span class="key m"></span> Managing {m}% &nbsp; '
        f'<span class="key l"></span> Leading {lead}%</p>'
        f'<p>Top facets</p><ul class="facets">{rows}</ul>'
        + (f"<p>From what you wrote:</p><ul>{evidence}</ul>" if evidence else "")
        + "</div>"
    )


def history_from_turns(turns: list[dict]) -> list[dict]:
    """The conversation for the Coach, from the replies kept in state (never parsed back from the chat)."""
    history = []
    for turn in turns:
        history += [
            {"role": "user", "content": turn["question"]},
            {"role": "assistant", "content": turn["reply"].text},
        ]
    return history


def conversation_markdown(turns: list[dict]) -> str:
    """The conversation as Markdown, each reply followed by its sources."""
    out = ["# Coaching conversation", ""]
    for turn in turns:
        reply: Reply = turn["reply"]
        out += [f"**You:** {turn['question']}", "", f"**Coach:** {reply.text}", ""]
        for c in reply.citations:
            out.append(f"- [{c.index}] {source_title(c)} (`{c.doc_id}`): “{c.quote or c.text[:200]}”")
        out.append("")
    return "\n".join(out)
