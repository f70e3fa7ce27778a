"""The page's handlers: plain functions of the Coach and the event's data (no layout here).

Each is bound to the page by ``build_app``; the page's history for the Coach comes from the
replies kept in state, never from the chat's messages, which Gradio hands back in its own shapes.
"""

import html
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..coach import Coach
from ..corpus import MAX_FILES_PER_UPLOAD
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

EMPTY_PROMPT = "Type a question, or describe a situation from your week."
SOURCES_TITLE = "Sources"


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
    export = export_file(turns, coach.settings.data_dir / "exports")
    yield ("", messages, turns_sources_html(turns), diagnosis_html(reply.diagnosis), export, turns)


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


# An export only needs to outlive its download: Gradio copies it into its own cache at once.
EXPORT_KEPT_S = 3600


def export_file(turns: list, folder: Path | None = None) -> str | None:
    """The conversation so far as a Markdown file, for the download button, in ``folder`` (the data
    dir's exports); exports older than an hour there are deleted, and all of them at start."""
    if not turns:
        return None
    folder = Path(folder) if folder else Path(tempfile.gettempdir()) / "coach-exports"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():  # one folder per export, so the file keeps a plain name
        try:
            stale = time.time() - old.stat().st_mtime > EXPORT_KEPT_S
        except OSError:  # another page's export, removed meanwhile
            continue
        if stale:
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(dir=folder)) / f"coaching-{time.strftime('%Y%m%d-%H%M%S')}.md"
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
    files = files or []
    if len(files) > MAX_FILES_PER_UPLOAD:
        extra = len(files) - MAX_FILES_PER_UPLOAD
        lines.append(f"Not added: {extra} files past the first {MAX_FILES_PER_UPLOAD} (at most that many at once).")
        files = files[:MAX_FILES_PER_UPLOAD]
    for f in files:
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


def on_unload(coach: Coach, request: Any, require_login: bool = False) -> None:
    """A closed page's uploads are dropped. With logins on, only a signed-in request may do it
    (Gradio's heartbeat route runs this handler without asking for a login)."""
    if require_login and not getattr(request, "username", None):
        return
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
