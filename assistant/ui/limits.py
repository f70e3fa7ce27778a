"""Bounds Gradio's routes lack, as ASGI middleware: files per upload request, and failed logins.

Gradio's own parser takes up to 1,000 files per request (each under ``max_file_size``).
UploadLimit refuses, before anything reaches the disk where it can, an upload request without
a length, one longer than ``MAX_FILES_PER_UPLOAD`` files could be, or one whose body holds more
parts than that. LoginBackoff makes an address that keeps failing to sign in wait.
"""

from __future__ import annotations

import time
from typing import Any

from ..corpus import MAX_FILE_BYTES, MAX_FILES_PER_UPLOAD

# Room for the multipart headers of each part, beyond the files themselves.
MAX_UPLOAD_BYTES = MAX_FILES_PER_UPLOAD * (MAX_FILE_BYTES + 4096)


class _TooMany(Exception):
    pass


class UploadLimit:
    """Pure ASGI middleware: 411 without Content-Length, 413 past the size or the file count."""

    def __init__(self, app: Any, max_files: int = MAX_FILES_PER_UPLOAD, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.app, self.max_files, self.max_bytes = app, max_files, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].endswith("/upload"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        if not length.isdigit():
            await _refuse(send, 411, "An upload needs a Content-Length.")
            return
        if int(length) > self.max_bytes:
            await _refuse(send, 413, f"At most {self.max_files} files of {MAX_FILE_BYTES // 2**20} MB each at once.")
            return
        boundary = _boundary(headers.get("content-type", ""))
        if boundary is None:
            await self.app(scope, receive, send)  # Gradio answers a body that is not multipart
            return
        marker, tail, parts = b"\r\n--" + boundary, b"\r\n", 0
        started = False

        async def counting_receive() -> dict:
            nonlocal tail, parts
            message = await receive()
            if message["type"] == "http.request":
                seen = tail + message.get("body", b"")
                # Each part opens with the marker; the closing marker ("--" after it) is not a part.
                parts += seen.count(marker) - seen.count(marker + b"--")
                tail = seen[-(len(marker) + 1) :]
                if parts > self.max_files:
                    raise _TooMany
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooMany:
            if not started:
                await _refuse(send, 413, f"At most {self.max_files} files at once.")


def _boundary(content_type: str) -> bytes | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


async def _refuse(send: Any, status: int, text: str, retry_after: float = 0) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    if retry_after:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class LoginBackoff:
    """Pure ASGI middleware: after ``free`` failed sign-ins in a row from one address, each
    further attempt waits 1, 2, 4... seconds (at most ``cap``) after the last failure, answered
    429 until then. A sign-in that succeeds clears the address. Behind a proxy every visitor
    shares the proxy's address: there, the proxy's own limit is the one to use."""

    def __init__(self, app: Any, free: int = 5, cap: float = 30.0) -> None:
        self.app, self.free, self.cap = app, free, cap
        self.failures: dict[str, tuple[int, float]] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["path"].rstrip("/").endswith("/login"):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("?",))[0]
        failed, last = self.failures.get(address, (0, 0.0))
        wait = min(self.cap, 2.0 ** (failed - self.free)) if failed >= self.free else 0.0
        left = last + wait - time.monotonic()
        if left > 0:
            await _refuse(send, 429, f"Too many failed sign-ins: try again in {left:.0f} s.", retry_after=left)
            return

        async def watching_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 200:
                    self.failures.pop(address, None)
                elif message["status"] in (400, 401):
                    self.failures[address] = (failed + 1, time.monotonic())
                    if len(self.failures) > 10_000:  # bound the memory a flood of addresses takes
                        self.failures.pop(next(iter(self.failures)))
            await send(message)

        await self.app(scope, receive, watching_send)
