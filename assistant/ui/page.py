"""The Gradio page: its layout, its look, and which handler each event calls. Nothing happens at import.

Each browser session is its own: its chat, its replies and its uploaded documents (keyed by
Gradio's session hash) are never shown to another session. The handlers live in ``handlers``.
"""

import os
import secrets
from functools import partial
from pathlib import Path
from typing import Any

from ..coach import Coach
from ..store import SharedStore
from .handlers import (
    EMPTY_PROMPT,
    cleared,
    diagnose_text,
    documents_md,
    export_file,
    on_like,
    on_load,
    on_remove,
    on_unload,
    on_upload,
    pick_up,
    respond,
)
from .render import diagnosis_html, sources_html

EXAMPLES = [
    "I spent my week approving expenses and checking timesheets. Am I managing or leading?",
    "This week I let Sam run the stand-up and asked the team where they want the product to be in a year.",
    "How did John Maxwell define leadership?",
    "How do I give feedback that is specific and fair?",
]

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


CACHE_KEPT = (3600, 3600)  # (how often, how old) in seconds


def browser_secret(data_dir: Path, shared: SharedStore | None = None) -> str:
    """The key that signs what the page keeps in the browser, created once in the data dir (so a
    returning person's id still reads back after a restart) and readable by its owner only; in
    the shared database when there is one, so every app process reads the same id back."""
    if shared is not None and shared.shared:
        return shared.first("browser-secret", secrets.token_urlsafe(32))
    path = data_dir / "browser-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def build_app(coach: Coach, require_login: bool = False) -> Any:
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
        on_unload(coach, request, require_login)

    # Raw uploads and downloads in Gradio's cache go after an hour, and all of them at a restart.
    with gr.Blocks(title="Leadership coach", analytics_enabled=False, delete_cache=CACHE_KEPT) as app:
        turns = gr.State([])
        stored_id = gr.BrowserState(
            "",
            storage_key="leadership-coach-user",
            secret=browser_secret(coach.settings.data_dir, coach.library.store),
        )
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
