"""The Gradio page, built from a Coach. Nothing happens at import.

Each browser session is its own: its chat, its replies and its uploaded documents (keyed by
Gradio's session hash) are never shown to another session.
"""

import html
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import Citation, Coach, Diagnosis, Reply

EXAMPLES = [
    "I spent my week approving expenses and checking timesheets. Am I managing or leading?",
    "This week I let Sam run the stand-up and asked the team where they want the product to be in a year.",
    "How did John Maxwell define leadership?",
    "How do I give feedback that is specific and fair?",
]
EMPTY_PROMPT = "Type a question, or describe a situation from your week."
SOURCES_TITLE = "Sources"
_MARKER = re.compile(r"\[(\d{1,3})\]")
_MARKUP = re.compile(r"(^|\n)(?:#{1,6} |&gt; ?)", re.M)

CSS = """
.source-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.source-card summary { cursor: pointer; font-weight: 600; }
.source-card mark { background: #ffe58a; color: #111; padding: 0 2px; }
.source-card:target, .source-card.flash { outline: 3px solid #f5b700; }
.diag .bar { display: flex; height: 28px; border-radius: 6px; overflow: hidden; font-size: 13px; }
.diag .bar span { display: flex; align-items: center; justify-content: center; color: #fff; white-space: nowrap; }
.diag .m { background: #31708e; } .diag .l { background: #c0504d; }
.diag ul.facets { list-style: none; padding: 0; margin: 10px 0; }
.diag ul.facets li { display: grid; grid-template-columns: 7.5em 1fr 3em; gap: 6px; align-items: center; }
.diag .meter { background: var(--background-fill-secondary); height: 10px; border-radius: 5px; }
.diag .meter span { display: block; height: 10px; border-radius: 5px; }
.diag .side-management { background: #31708e; } .diag .side-leadership { background: #c0504d; }
"""

# Clicking a marker [n] opens and shows its passage in the sources panel.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest('a[href^="#source-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(link.getAttribute('href').slice(1));
    if (!card) return;
    card.open = true;
    card.scrollIntoView({block: 'nearest'});
    card.classList.add('flash');
    setTimeout(() => card.classList.remove('flash'), 1500);
  }, true);
}
"""


def linked(text: str, turn: int) -> str:
    """Reply text with each marker [n] turned into a link to its source card."""
    return _MARKER.sub(lambda m: f"[[{m.group(1)}]](#source-{turn}-{m.group(1)})", text)


def highlighted(c: Citation) -> str:
    """The passage as HTML with the cited sentence in <mark>."""
    before, quote, after = c.text[: c.quote_start], c.text[c.quote_start : c.quote_end], c.text[c.quote_end :]
    mark = f"<mark>{html.escape(quote)}</mark>" if quote else ""
    shown = (html.escape(before) + mark + html.escape(after)).replace("**", "")
    # Markdown headings and bullets read as plain lines in the card.
    return _MARKUP.sub(r"\1", shown).replace("\n", "<br>")


def sources_html(citations: list[Citation], turn: int) -> str:
    """The cards of the side panel: one per source, the cited sentence highlighted."""
    if not citations:
        return "<p>No sources yet: ask a question and the passages it cites appear here.</p>"
    cards = []
    for c in citations:
        cards.append(
            f'<details class="source-card" id="source-{turn}-{c.index}">'
            f"<summary>[{c.index}] {html.escape(c.title)} — {html.escape(c.section)}</summary>"
            f"<p>{highlighted(c)}</p></details>"
        )
    return "\n".join(cards)


def sources_markdown(citations: list[Citation]) -> str:
    """The sources box under a reply: title, section and the passage, cited sentence marked."""
    return "\n\n---\n\n".join(
        f"**[{c.index}] {html.escape(c.title)}** — _{html.escape(c.section)}_\n\n{highlighted(c)}" for c in citations
    )


def diagnosis_html(d: Diagnosis | None) -> str:
    """Management vs leadership as a bar, the top facets as meters, and the evidence."""
    if d is None:
        return "<p>Describe a situation from your week to see whether it leans to managing or leading.</p>"
    m, lead = round(d.management * 100), round(d.leadership * 100)
    label = {"management": "Leans to managing", "leadership": "Leans to leading", "balanced": "Balanced"}[d.lean]
    rows = "".join(
        f'<li><span>{f.name}</span><span class="meter"><span class="side-{f.side}" '
        f'style="width:{f.score * 100:.0f}%"></span></span><span>{f.score:.0%}</span></li>'
        for f in d.facets[:5]
    )
    evidence = "".join(f"<li>“{html.escape(e)}”</li>" for e in d.evidence)
    return (
        f'<div class="diag" role="img" aria-label="{label}: {m}% managing, {lead}% leading">'
        f"<p><strong>{label}</strong></p>"
        f'<div class="bar"><span class="m" style="width:{m}%">Managing {m}%</span>'
        f'<span class="l" style="width:{lead}%">Leading {lead}%</span></div>'
        f'<p>Top facets</p><ul class="facets">{rows}</ul>'
        + (f"<p>From what you wrote:</p><ul>{evidence}</ul>" if evidence else "")
        + "</div>"
    )


def coach_history(messages: list[Any]) -> list[dict]:
    """The chat as {"role", "content"} turns, leaving out the sources boxes and the links."""
    turns = []
    for m in messages:
        m = m if isinstance(m, dict) else {"role": m.role, "content": m.content, "metadata": m.metadata}
        if (m.get("metadata") or {}).get("title") or not isinstance(m.get("content"), str):
            continue
        # The chat shows the text escaped, with each [n] a link.
        text = html.unescape(re.sub(r"\[(\[\d+\])\]\(#source-[\d-]+\)", r"\1", m["content"]))
        turns.append({"role": m["role"], "content": text})
    return turns


def conversation_markdown(turns: list[dict]) -> str:
    """The conversation as Markdown, each reply followed by its sources."""
    out = ["# Coaching conversation", ""]
    for turn in turns:
        reply: Reply = turn["reply"]
        out += [f"**You:** {turn['question']}", "", f"**Coach:** {reply.text}", ""]
        for c in reply.citations:
            out.append(f"- [{c.index}] {c.title} — {c.section} (`{c.doc_id}`): “{c.quote or c.text[:200]}”")
        out.append("")
    return "\n".join(out)


def build_app(coach: Coach) -> Any:
    """The chat page over ``coach``: streamed cited replies, sources, diagnosis, uploads."""
    import gradio as gr

    def respond(
        message: str,
        messages: list,
        turns: list,
        top_k: int,
        show_diagnosis: bool,
        user_id: str,
        request: gr.Request,
    ) -> Iterator[tuple]:
        messages, turns = list(messages or []), list(turns or [])
        keep = (gr.skip(), gr.skip())
        if not (message or "").strip():
            gr.Info(EMPTY_PROMPT)
            yield ("", messages, *keep, turns)
            return
        history = coach_history(messages)
        turn = len(turns) + 1
        # The Chatbot renders Markdown with HTML in it: the message and the reply (which quotes
        # documents and the message) go in escaped, so markup shows as text.
        messages.append(gr.ChatMessage(role="user", content=html.escape(message, quote=False)))
        answer = gr.ChatMessage(role="assistant", content="")
        messages.append(answer)
        reply: Reply | None = None
        stream = coach.session(user_id or request.session_hash or "anonymous").stream(
            message, history=history, owner=request.session_hash or "", top_k=int(top_k), diagnose=show_diagnosis
        )
        for reply in stream:
            answer.content = linked(html.escape(reply.text, quote=False), turn)
            yield ("", messages, *keep, turns)
        assert reply is not None
        if reply.citations:
            messages.append(
                gr.ChatMessage(
                    role="assistant",
                    content=sources_markdown(reply.citations),
                    metadata={"title": f"{SOURCES_TITLE} ({len(reply.citations)})", "status": "done"},
                )
            )
        turns.append({"question": message, "reply": reply, "message": len(messages) - 1})
        yield ("", messages, sources_html(reply.citations, turn), diagnosis_html(reply.diagnosis), turns)

    def on_like(data: gr.LikeData, turns: list, request: gr.Request) -> None:
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        turn = next((t for t in reversed(turns or []) if t["message"] >= index), None)
        if turn is None:
            return
        coach.feedback.add(turn["question"], turn["reply"], bool(data.liked), session=request.session_hash or "")
        gr.Info("Thanks, your feedback is saved.")

    def on_export(turns: list) -> str | None:
        if not turns:
            gr.Warning("Nothing to export yet.")
            return None
        path = Path(tempfile.mkdtemp()) / f"coaching-{time.strftime('%Y%m%d-%H%M%S')}.md"
        path.write_text(conversation_markdown(turns), encoding="utf-8")
        return str(path)

    def doc_choices(owner: str) -> list[tuple[str, str]]:
        return [(f"{Path(d.path).name} ({d.title})", d.doc_id) for d in coach.uploads(owner)]

    # Gradio reads the progress bar from this default; tqdm bars of the indexing show in it.
    def on_upload(files: list | None, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        owner = request.session_hash or ""
        lines = []
        for f in files or []:
            path = Path(f if isinstance(f, str) else f.name)
            try:
                coach.add_upload(path, owner, progress=True)
                lines.append(f"Added **{html.escape(path.name)}**: it is used from your next message on.")
            except ValueError as exc:
                lines.append(f"Not added: {html.escape(str(exc))}")
        choices = doc_choices(owner)
        return None, "\n\n".join(lines), gr.update(choices=choices, value=None), documents_md(choices)

    def on_remove(doc_id: str | None, request: gr.Request):
        owner = request.session_hash or ""
        if doc_id:
            coach.remove_upload(doc_id, owner)
        choices = doc_choices(owner)
        message = "Removed." if doc_id else "Pick a document to remove."
        return message, gr.update(choices=choices, value=None), documents_md(choices)

    def documents_md(choices: list[tuple[str, str]]) -> str:
        if not choices:
            return "_No documents of yours yet._"
        return "Your documents:\n" + "\n".join(f"- {html.escape(label)}" for label, _ in choices)

    def on_unload(request: gr.Request) -> None:
        coach.forget(request.session_hash or "")

    def on_load(user_id: str) -> tuple:
        # The browser keeps a private id, so what someone committed to last time is there next time.
        user_id = user_id or uuid.uuid4().hex
        commitments = coach.session(user_id).commitments()[-3:]
        if not commitments:
            return user_id, user_id, gr.update(visible=False), gr.update(visible=False)
        listed = "\n".join(f"- {html.escape(c.text)}" for c in commitments)
        banner = f"**Last time you committed to:**\n{listed}"
        return user_id, user_id, gr.update(value=banner, visible=True), gr.update(visible=True)

    def pick_up(user_id: str) -> str:
        commitments = coach.session(user_id).commitments()
        if not commitments:
            return ""
        return f"Last time I committed to: {commitments[-1].text}. Here is how it went: "

    with gr.Blocks(title="Leadership coach", analytics_enabled=False) as app:
        turns = gr.State([])
        stored_id = gr.BrowserState("", storage_key="leadership-coach-user")
        user_id = gr.State("")  # a copy the chat reads, so API callers need not send one
        gr.Markdown(
            "## Leadership coach\nDescribe what you did this week, or ask about managing and leading. "
            "Every answer cites the library; click a marker like [1] to read its passage."
        )
        with gr.Row():
            last_time = gr.Markdown(visible=False, elem_id="last-time")
            resume = gr.Button("Pick up where we left off", visible=False, size="sm")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    height=560,
                    buttons=["copy"],
                    placeholder="Am I managing or leading here?",
                    feedback_options=("Like", "Dislike"),
                )
                box = gr.Textbox(label="Your message", placeholder=EMPTY_PROMPT, lines=1, max_lines=8, max_length=20000)
                with gr.Row():
                    send = gr.Button("Send", variant="primary")
                    clear = gr.ClearButton([box, chatbot], value="Clear conversation")
                    export = gr.DownloadButton("Export as Markdown")
                gr.Examples(EXAMPLES, inputs=box, label="Try one")
            with gr.Column(scale=2, min_width=300):
                with gr.Tab("Sources"):
                    sources = gr.HTML(sources_html([], 0), elem_id="sources-panel")
                with gr.Tab("Diagnosis"):
                    diagnosis = gr.HTML(diagnosis_html(None), elem_id="diagnosis-panel")
                with gr.Tab("Your documents"):
                    upload = gr.File(
                        label="Add documents (.md, .txt or .pdf, up to 20 MB)",
                        file_count="multiple",
                        file_types=[".md", ".txt", ".pdf"],
                    )
                    upload_status = gr.Markdown()
                    documents = gr.Markdown(documents_md([]))
                    chosen = gr.Dropdown(label="Document to remove", choices=[], value=None)
                    remove = gr.Button("Remove document")
                with gr.Tab("Settings"):
                    backends = sorted({coach.settings.llm, "extractive"})
                    gr.Dropdown(backends, value=coach.settings.llm, label="Answer backend", visible=len(backends) > 1)
                    top_k = gr.Slider(1, 10, value=coach.settings.top_k, step=1, label="Passages per answer")
                    show_diagnosis = gr.Checkbox(
                        value=coach.settings.diagnose, label="Show the managing/leading diagnosis"
                    )

        inputs = [box, chatbot, turns, top_k, show_diagnosis, user_id]
        outputs = [box, chatbot, sources, diagnosis, turns]
        box.submit(respond, inputs, outputs, api_name="chat")
        send.click(respond, inputs, outputs, api_name=False)
        clear.click(lambda: ([], sources_html([], 0), diagnosis_html(None)), None, [turns, sources, diagnosis])
        chatbot.like(on_like, [turns], None)
        export.click(on_export, [turns], export)
        upload.upload(on_upload, [upload], [upload, upload_status, chosen, documents])
        remove.click(on_remove, [chosen], [upload_status, chosen, documents])
        app.unload(on_unload)
        app.load(on_load, [stored_id], [stored_id, user_id, last_time, resume])
        resume.click(pick_up, [user_id], [box])
    return app


def launch(coach: Coach | None = None, **kwargs: Any) -> None:
    """Build and launch the page; binds 127.0.0.1 unless GRADIO_SERVER_NAME says otherwise.

    ASSISTANT_AUTH (``user:password`` pairs, comma-separated, or the path of a file of them,
    one a line) turns on Gradio's login. Binding beyond loopback without it prints a warning.
    GRADIO_DEFAULT_CONCURRENCY_LIMIT sets how many replies are worked on at once (default 4).
    """
    import sys

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    server_name = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    # Read the logins before the slow start, so a mistake in them fails at once.
    if kwargs.get("auth") is None and os.environ.get("ASSISTANT_AUTH", "").strip():
        kwargs["auth"] = read_auth(os.environ["ASSISTANT_AUTH"])
        kwargs.setdefault("auth_message", "Leadership coach: sign in with the login you were given.")
    warning = exposure_warning(server_name, kwargs.get("auth"))
    if warning:
        print(warning, file=sys.stderr, flush=True)
    coach = coach or Coach()
    # Build or sync the index and load the models before the first visitor waits for them.
    coach.ask("I checked every timesheet this week. Am I managing or leading?")
    app = build_app(coach)
    app.queue(default_concurrency_limit=int(os.environ.get("GRADIO_DEFAULT_CONCURRENCY_LIMIT") or 4))
    import gradio as gr

    from .corpus import MAX_FILE_BYTES

    # System fonts: the page must not reach out to a font service (it may have no network).
    fonts = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"]
    theme = gr.themes.Default(font=fonts, font_mono=["ui-monospace", "monospace"])
    # Gradio refuses bigger uploads before writing them to disk (add_upload would refuse them after).
    kwargs.setdefault("max_file_size", MAX_FILE_BYTES)
    app.launch(
        server_name=server_name,
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        css=CSS,
        js=JS,
        theme=theme,
        **kwargs,
    )


def read_auth(value: str) -> list[tuple[str, str]]:
    """The logins in ASSISTANT_AUTH: ``user:password`` pairs, comma-separated, or a file of them.

    A file has one pair a line; blank lines and lines starting with ``#`` are skipped. The
    password is everything after the first colon. Raises ValueError naming the entry (never
    its password) when one is malformed or a user appears twice.

    Example:
        >>> read_auth("alice:s3cret, bob:pa:ss")
        [('alice', 's3cret'), ('bob', 'pa:ss')]
    """
    path = Path(value.strip()).expanduser()
    if path.is_file():
        entries = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        entries = [e for e in entries if e and not e.startswith("#")]
        where = f"ASSISTANT_AUTH file {path}"
    else:
        entries = [e.strip() for e in value.split(",") if e.strip()]
        where = "ASSISTANT_AUTH"
    logins: list[tuple[str, str]] = []
    for number, entry in enumerate(entries, 1):
        user, colon, password = entry.partition(":")
        user = user.strip()
        if not colon or not user or not password:
            hint = "" if where != "ASSISTANT_AUTH" or "/" not in value else " (and no file of that name exists)"
            raise ValueError(f"{where}: entry {number} is not user:password{hint}")
        if any(user == known for known, _ in logins):
            raise ValueError(f"{where}: user {user!r} appears twice")
        logins.append((user, password))
    if not logins:
        raise ValueError(f"{where}: no user:password pairs in it")
    return logins


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warning(server_name: str, auth: object) -> str | None:
    """A loud warning when the page listens beyond this machine with no login; None otherwise."""
    if is_loopback(server_name) or auth:
        return None
    bar = "!" * 78
    return (
        f"{bar}\n"
        f"WARNING: the coach listens on {server_name or 'every address'} with NO LOGIN.\n"
        "Anyone who can reach this machine can use it, read the library and upload documents.\n"
        "Set ASSISTANT_AUTH=user:password (or the path of a file of them) to require a login,\n"
        "or set GRADIO_SERVER_NAME=127.0.0.1 to listen on this machine only.\n"
        f"{bar}"
    )
