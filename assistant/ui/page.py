"""The Gradio page: its layout and its handlers. Nothing happens at import.

Each browser session is its own: its chat, its replies and its uploaded documents (keyed by
Gradio's session hash) are never shown to another session. Handlers are plain functions of
the Coach and the event's data, bound to the page with ``functools.partial``.
"""

import html
import tempfile
import time
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from ..coach import Coach
from ..types import Reply
from .render import (
    conversation_markdown,
    diagnosis_html,
    history_from_turns,
    linked,
    sources_html,
    sources_markdown,
    turns_sources_html,
)

EXAMPLES = [
    "I spent my week approving expenses and checking timesheets. Am I managing or leading?",
    "This week I let Sam run the stand-up and asked the team where they want the product to be in a year.",
    "How did John Maxwell define leadership?",
    "How do I give feedback that is specific and fair?",
]
EMPTY_PROMPT = "Type a question, or describe a situation from your week."
SOURCES_TITLE = "Sources"

CSS = """
.source-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.source-card summary { cursor: pointer; font-weight: 600; }
.source-card mark { background: #ffe58a; color: #111; padding: 0 2px; }
.source-card:target, .source-card.flash { outline: 3px solid #f5b700; }
p.earlier { margin: 14px 0 2px; font-size: 13px; opacity: 0.75; }
.diag .bar { display: flex; height: 16px; border-radius: 6px; overflow: hidden; }
.diag .m { background: #31708e; } .diag .l { background: #c0504d; }
.diag .key { display: inline-block; width: 10px; height: 10px; border-radius: 2px; }
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
    const tab = [...document.querySelectorAll('[role=tab]')].find((t) => t.innerText.trim() === 'Sources');
    if (tab && tab.getAttribute('aria-selected') !== 'true') tab.click();
    card.open = true;
    card.scrollIntoView({block: 'nearest'});
    card.classList.add('flash');
    setTimeout(() => card.classList.remove('flash'), 1500);
  }, true);
}
"""


def _owner(request: Any) -> str:
    return getattr(request, "session_hash", None) or ""


def respond(
    coach: Coach,
    message: str,
    messages: list,
    turns: list,
    top_k: int,
    show_diagnosis: bool,
    user_id: str,
    request: Any,
) -> Iterator[tuple]:
    """Stream the reply into the chat; then fill the Sources and Diagnosis panels and the export.

    The Coach's history comes from ``turns`` (each turn's Reply, kept in state), never from
    the chat's messages, which Gradio hands back in its own shapes.
    """
    import gradio as gr

    messages, turns = list(messages or []), list(turns or [])
    keep = (gr.skip(), gr.skip(), gr.skip())
    if not (message or "").strip():
        gr.Info(EMPTY_PROMPT)
        yield ("", messages, *keep, turns)
        return
    turn = len(turns) + 1
    # The Chatbot renders Markdown with HTML in it: the message and the reply (which quotes
    # documents and the message) go in escaped, so markup shows as text.
    messages.append(gr.ChatMessage(role="user", content=html.escape(message, quote=False)))
    answer = gr.ChatMessage(role="assistant", content="")
    messages.append(answer)
    reply: Reply | None = None
    session = coach.session(user_id or _owner(request) or "anonymous")
    try:
        stream = session.stream(
            message,
            history=history_from_turns(turns),
            owner=_owner(request),
            top_k=int(top_k),
            diagnose=show_diagnosis,
        )
        for reply in stream:
            answer.content = linked(html.escape(reply.text, quote=False), turn)
            yield ("", messages, *keep, turns)
    except (ValueError, TypeError) as exc:  # an empty or unreadable message: say so, lose nothing
        messages = messages[:-2]
        gr.Warning(str(exc))
        yield (message, messages, *keep, turns)
        return
    assert reply is not None
    if reply.citations:
        messages.append(
            gr.ChatMessage(
                role="assistant",
                content=sources_markdown(reply.citations),
                metadata={"title": f"{SOURCES_TITLE} ({len(reply.citations)})", "status": "done"},
            )
        )
    turns.append({"question": message, "reply": reply, "first": len(messages) - 2 - bool(reply.citations)})
    yield ("", messages, turns_sources_html(turns), diagnosis_html(reply.diagnosis), export_file(turns), turns)


def on_like(coach: Coach, data: Any, turns: list, request: Any) -> None:
    """Thumbs up or down on a reply (or its sources box), stored against that reply."""
    import gradio as gr

    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    # Each turn holds the chat messages from its question on; the liked message is in the last turn
    # that starts at or before it.
    turn = next((t for t in reversed(turns or []) if t["first"] <= index), None)
    if turn is None:
        return
    coach.feedback.add(turn["question"], turn["reply"], bool(data.liked), session=_owner(request))
    gr.Info("Thanks, your feedback is saved.")


def export_file(turns: list) -> str | None:
    """The conversation so far as a Markdown file, for the download button."""
    if not turns:
        return None
    path = Path(tempfile.mkdtemp(prefix="coach-export-")) / f"coaching-{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(conversation_markdown(turns), encoding="utf-8")
    return str(path)


def documents_md(choices: list[tuple[str, str]]) -> str:
    if not choices:
        return "_No documents of yours yet._"
    return "Your documents:\n" + "\n".join(f"- {html.escape(label)}" for label, _ in choices)


def _doc_choices(coach: Coach, owner: str) -> list[tuple[str, str]]:
    return [(f"{Path(d.path).name} ({d.title})", d.doc_id) for d in coach.uploads(owner)]


def on_upload(coach: Coach, files: list | None, request: Any, progress: Any = None) -> tuple:
    """Index each file for this browser session only; say in words what happened to each."""
    import gradio as gr

    owner = _owner(request)
    lines = []
    for f in files or []:
        path = Path(f if isinstance(f, str) else f.name)
        try:
            coach.add_upload(path, owner, progress=True)
            lines.append(f"Added **{html.escape(path.name)}**: it is used from your next message on.")
        except ValueError as exc:
            lines.append(f"Not added: {html.escape(str(exc))}")
    choices = _doc_choices(coach, owner)
    return None, "\n\n".join(lines), gr.update(choices=choices, value=None), documents_md(choices)


def on_remove(coach: Coach, doc_id: str | None, request: Any) -> tuple:
    import gradio as gr

    owner = _owner(request)
    if doc_id:
        coach.remove_upload(doc_id, owner)
    choices = _doc_choices(coach, owner)
    message = "Removed." if doc_id else "Pick a document to remove."
    return message, gr.update(choices=choices, value=None), documents_md(choices)


def on_unload(coach: Coach, request: Any) -> None:
    coach.forget(_owner(request))


def on_load(coach: Coach, user_id: str) -> tuple:
    """The browser keeps a private id, so what someone committed to last time is there next time."""
    import gradio as gr

    user_id = user_id or uuid.uuid4().hex
    commitments = coach.session(user_id).commitments()[-3:]
    if not commitments:
        return user_id, user_id, gr.update(visible=False), gr.update(visible=False)
    listed = "\n".join(f"- {html.escape(c.text)}" for c in commitments)
    banner = f"**Last time you committed to:**\n{listed}"
    return user_id, user_id, gr.update(value=banner, visible=True), gr.update(visible=True)


def pick_up(coach: Coach, user_id: str) -> str:
    commitments = coach.session(user_id).commitments()
    if not commitments:
        return ""
    return f"Last time I committed to: {commitments[-1].text}. Here is how it went: "


def diagnose_text(coach: Coach, situation: str) -> str:
    """The managing/leading diagnosis of a described situation, as the Diagnosis panel shows it."""
    return diagnosis_html(coach.diagnose(situation))


def cleared() -> tuple:
    return [], sources_html([], 0), diagnosis_html(None), None


def build_app(coach: Coach) -> Any:
    """The chat page over ``coach``: streamed cited replies, sources, diagnosis, uploads."""
    import gradio as gr

    def bind(fn: Any) -> Any:
        return partial(fn, coach)

    # Gradio reads the progress bar from this default; tqdm bars of the indexing show in it.
    def upload(files: list | None, request: gr.Request, progress=gr.Progress(track_tqdm=True)):  # noqa: B008
        return on_upload(coach, files, request, progress)

    def like(data: gr.LikeData, turns: list, request: gr.Request) -> None:
        on_like(coach, data, turns, request)

    def chat(message, messages, turns, top_k, show_diagnosis, user_id, request: gr.Request):
        yield from respond(coach, message, messages, turns, top_k, show_diagnosis, user_id, request)

    def remove(doc_id, request: gr.Request):
        return on_remove(coach, doc_id, request)

    def unload(request: gr.Request) -> None:
        on_unload(coach, request)

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
                    export = gr.DownloadButton("Export as Markdown", value=None, elem_id="export")
                gr.Examples(EXAMPLES, inputs=box, label="Try one")
            with gr.Column(scale=2, min_width=300):
                with gr.Tab("Sources"):
                    sources = gr.HTML(sources_html([], 0), elem_id="sources-panel")
                with gr.Tab("Diagnosis"):
                    diagnosis = gr.HTML(diagnosis_html(None), elem_id="diagnosis-panel")
                with gr.Tab("Your documents"):
                    files = gr.File(
                        label="Add documents (.md, .txt or .pdf, up to 20 MB)",
                        file_count="multiple",
                        file_types=[".md", ".txt", ".pdf"],
                    )
                    upload_status = gr.Markdown()
                    documents = gr.Markdown(documents_md([]))
                    chosen = gr.Dropdown(label="Document to remove", choices=[], value=None)
                    remove_button = gr.Button("Remove document")
                with gr.Tab("Settings"):
                    backends = sorted({coach.settings.llm, "extractive"})
                    gr.Dropdown(backends, value=coach.settings.llm, label="Answer backend", visible=len(backends) > 1)
                    top_k = gr.Slider(1, 10, value=coach.settings.top_k, step=1, label="Passages per answer")
                    show_diagnosis = gr.Checkbox(
                        value=coach.settings.diagnose, label="Show the managing/leading diagnosis"
                    )
        # Named endpoints for API clients; the page's own plumbing stays private.
        situation = gr.Textbox(visible=False)
        diagnosed = gr.HTML(visible=False)

        private: dict[str, Any] = {"api_visibility": "private"}
        inputs = [box, chatbot, turns, top_k, show_diagnosis, user_id]
        outputs = [box, chatbot, sources, diagnosis, export, turns]
        box.submit(chat, inputs, outputs, api_name="chat")
        send.click(chat, inputs, outputs, **private)
        clear.click(cleared, None, [turns, sources, diagnosis, export], **private)
        chatbot.like(like, [turns], None, api_name="feedback")
        files.upload(upload, [files], [files, upload_status, chosen, documents], api_name="upload")
        remove_button.click(remove, [chosen], [upload_status, chosen, documents], **private)
        export.click(export_file, [turns], None, api_name="export")
        situation.submit(bind(diagnose_text), [situation], [diagnosed], api_name="diagnose")
        app.unload(unload)
        app.load(bind(on_load), [stored_id], [stored_id, user_id, last_time, resume], **private)
        resume.click(bind(pick_up), [user_id], [box], **private)
    return app
