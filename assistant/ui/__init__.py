"""The web page: pure rendering (render), the Blocks layout and handlers (page), serving (serve)."""

from .page import build_app
from .render import conversation_markdown, diagnosis_html, history_from_turns, linked, sources_html
from .serve import exposure_warning, is_loopback, launch, read_auth

__all__ = [
    "build_app",
    "conversation_markdown",
    "diagnosis_html",
    "exposure_warning",
    "history_from_turns",
    "is_loopback",
    "launch",
    "linked",
    "read_auth",
    "sources_html",
]
