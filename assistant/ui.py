"""The Gradio page, built from a Coach. Nothing happens at import."""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from typing import Any

from . import Citation, Coach, Reply

EXAMPLES = [
    "I spent my week approving expenses and checking timesheets. Am I managing or leading?",
    "What do managers focus on, and what do leaders focus on?",
    "How did John Maxwell define leadership?",
    "How do I give feedback that is specific and fair?",
]
EMPTY_PROMPT = "Type a question, or describe a situation from your week."
SOURCES_TITLE = "Sources"


def sources_markdown(citations: list[Citation]) -> str:
    """Each source with its title and section, the cited sentence highlighted in the passage."""
    blocks = []
    for c in citations:
        before, quote, after = c.text[: c.quote_start], c.text[c.quote_start : c.quote_end], c.text[c.quote_end :]
        passage = html.escape(before) + (f"<mark>{html.escape(quote)}</mark>" if quote else "") + html.escape(after)
        blocks.append(f"**[{c.index}] {html.escape(c.title)}** — _{html.escape(c.section)}_\n\n{passage}")
    return "\n\n---\n\n".join(blocks)


def coach_history(messages: list[Any]) -> list[dict]:
    """The chat as {"role", "content"} turns, leaving out the sources boxes."""
    turns = []
    for m in messages:
        m = m if isinstance(m, dict) else {"role": m.role, "content": m.content, "metadata": m.metadata}
        if (m.get("metadata") or {}).get("title") or not isinstance(m.get("content"), str):
            continue
        turns.append({"role": m["role"], "content": m["content"]})
    return turns


def build_app(coach: Coach) -> Any:
    """The chat page over ``coach``: streamed, cited replies with their sources under them."""
    import gradio as gr

    def respond(message: str, messages: list[Any]) -> Iterator[tuple[str, list[Any]]]:
        messages = list(messages or [])
        if not (message or "").strip():
            gr.Info(EMPTY_PROMPT)
            yield "", messages
            return
        history = coach_history(messages)
        messages.append(gr.ChatMessage(role="user", content=message))
        answer = gr.ChatMessage(role="assistant", content="")
        messages.append(answer)
        reply: Reply | None = None
        for reply in coach.stream(message, history=history):
            answer.content = reply.text
            yield "", messages
        if reply is not None and reply.citations:
            messages.append(
                gr.ChatMessage(
                    role="assistant",
                    content=sources_markdown(reply.citations),
                    metadata={"title": f"{SOURCES_TITLE} ({len(reply.citations)})", "status": "done"},
                )
            )
            yield "", messages

    with gr.Blocks(title="Leadership coach", analytics_enabled=False) as app:
        gr.Markdown(
            "## Leadership coach\nDescribe what you did this week, or ask about managing and leading. "
            "Every answer cites the library it comes from."
        )
        chatbot = gr.Chatbot(
            label="Conversation", height=520, buttons=["copy"], placeholder="Am I managing or leading here?"
        )
        with gr.Row():
            box = gr.Textbox(
                label="Your message", placeholder=EMPTY_PROMPT, lines=2, scale=5, autofocus=True, max_length=20000
            )
            send = gr.Button("Send", variant="primary", scale=1)
        gr.Examples(EXAMPLES, inputs=box, label="Try one")
        gr.ClearButton([box, chatbot], value="Clear conversation")
        box.submit(respond, [box, chatbot], [box, chatbot], api_name="chat")
        send.click(respond, [box, chatbot], [box, chatbot], api_name=False)
    return app


def launch(coach: Coach | None = None, **kwargs: Any) -> None:
    """Build and launch the page; binds 127.0.0.1 unless GRADIO_SERVER_NAME says otherwise."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    coach = coach or Coach()
    _ = coach.index  # build or sync the index before the first visitor waits for it
    app = build_app(coach)
    app.queue(default_concurrency_limit=4)
    app.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        **kwargs,
    )
