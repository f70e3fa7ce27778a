"""Serving the page: launch, logins and the warning when it listens beyond this machine."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from ..coach import Coach
from ..library import LIBRARY_VERSION
from .page import CSS, JS, build_app


def reachable(coach: Coach) -> None:
    """Stop the start with one clear line when the shared database cannot be reached."""
    if not coach.settings.database_url:
        return
    from sqlalchemy.exc import SQLAlchemyError

    try:
        coach.library.store.get(LIBRARY_VERSION)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise SystemExit(f"Cannot reach the database of ASSISTANT_DATABASE_URL: {reason}") from None


def launch(coach: Coach | None = None, **kwargs: Any) -> None:
    """Build and launch the page; binds 127.0.0.1 unless GRADIO_SERVER_NAME says otherwise.

    ASSISTANT_AUTH (``user:password`` pairs, comma-separated, or the path of a file of them,
    one a line) turns on Gradio's login. Binding beyond loopback without it prints a warning.
    GRADIO_DEFAULT_CONCURRENCY_LIMIT sets how many replies are worked on at once (default 4).
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    server_name = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    # Read the logins before the slow start, so a mistake in them fails at once.
    if kwargs.get("auth") is None and os.environ.get("ASSISTANT_AUTH", "").strip():
        kwargs["auth"] = read_auth(os.environ["ASSISTANT_AUTH"])
        kwargs.setdefault("auth_message", "Leadership coach: sign in with the login you were given.")
    warning = exposure_warning(server_name, kwargs.get("auth"))
    if warning:
        print(warning, file=sys.stderr, flush=True)
    started = time.monotonic()
    coach = coach or Coach()
    reachable(coach)
    # Build or sync the index and load the models before the first visitor waits for them,
    # saying what happens: the first build takes a while.
    say(f"Opening the library index in {coach.settings.data_dir} (the first start builds it)...")
    report = coach.ingest(progress=True)
    say(
        f"Library ready: {len(report.added) + len(report.updated) + len(report.unchanged)} documents "
        f"({len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed)."
    )
    removed = coach.clean_up()
    if any(removed.values()):
        say("Retention: removed " + ", ".join(f"{n} {kind}" for kind, n in removed.items() if n) + ".")
    say("Loading the models...")
    # A situation and a question: the first of each embeds what that path keeps in the data dir
    # (the card lines, the common questions' wordings), so no person waits for it.
    coach.ask("I checked every timesheet this week. Am I managing or leading?")
    coach.ask("What do managers focus on?")
    app = build_app(coach, require_login=bool(kwargs.get("auth")))
    workers = int(os.environ.get("GRADIO_DEFAULT_CONCURRENCY_LIMIT") or 4)
    app.queue(default_concurrency_limit=workers)
    import gradio as gr
    from starlette.middleware import Middleware

    from ..corpus import MAX_FILE_BYTES
    from .limits import LoginBackoff, UploadLimit

    # System fonts: the page must not reach out to a font service (it may have no network).
    fonts = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"]
    theme = gr.themes.Default(font=fonts, font_mono=["ui-monospace", "monospace"])
    # Gradio refuses bigger uploads before writing them to disk (add_upload would refuse them after).
    kwargs.setdefault("max_file_size", MAX_FILE_BYTES)
    # ...and UploadLimit refuses a request of more files than the page takes at once; an address
    # that keeps failing to sign in waits longer each time.
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    limits = [Middleware(UploadLimit), Middleware(LoginBackoff)]
    app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), *limits]
    # The OpenAI-protocol endpoint, on the same server (its routes come before Gradio's).
    from ..api import Api, read_keys

    keys = read_keys(os.environ.get("ASSISTANT_API_KEYS", ""))
    warning = keys_warning(server_name, keys)
    if warning:
        say(warning)
    app_kwargs["routes"] = [*app_kwargs.get("routes", []), *Api(coach, keys, workers).routes()]
    if os.environ.get("ASSISTANT_MCP", "").strip() in ("1", "true", "yes"):
        from ..mcp_tools import mount

        routes, middleware = mount(coach, keys)
        app_kwargs["routes"] += routes
        app_kwargs["middleware"] += middleware
        say("MCP tools (ask_coach, diagnose, search_library) at /mcp.")
    host = "127.0.0.1" if server_name in ("0.0.0.0", "") else server_name
    say(f"Ready after {time.monotonic() - started:.0f} s: open http://{host}:{port} in your browser.")
    app.launch(server_name=server_name, server_port=port, css=CSS, js=JS, theme=theme, app_kwargs=app_kwargs, **kwargs)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


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


def keys_warning(server_name: str, keys: list[str]) -> str | None:
    """A loud warning when the page listens beyond this machine and /v1 has no keys; None otherwise."""
    if is_loopback(server_name) or keys:
        return None
    bar = "!" * 78
    return (
        f"{bar}\nWARNING: the page listens on {server_name or 'every address'} but ASSISTANT_API_KEYS is not set:\n"
        "the /v1 endpoint (and /mcp) answer only clients on this machine. Set ASSISTANT_API_KEYS=key1,key2\n"
        f"(or the path of a file of keys) to serve other machines with a bearer key.\n{bar}"
    )


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
