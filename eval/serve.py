"""Servers on loopback for the benchmarks and tests: a free port, a process that is waited for.

``process`` starts a command with its output in a log, waits until ``ready()`` says it
answers (failing early, with the log, when it exits) and stops it on the way out.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """Resident memory of a process in MB (VmHWM for its peak), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def process(
    command: list[str],
    log_path: Path,
    ready: Callable[[], bool],
    timeout: float,
    what: str,
    **popen: object,
) -> Iterator[subprocess.Popen]:
    """``command`` running until the block ends, once ``ready()`` is true; yields the process.

    Raises RuntimeError with the end of the log when it exits first, or is not ready in
    ``timeout`` seconds.
    """
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)  # type: ignore[call-overload]
        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if proc.poll() is not None:
                    raise RuntimeError(f"{what} exited with {proc.returncode}:\n{Path(log_path).read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s (log: {log_path})")
                time.sleep(0.25)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


@contextmanager
def running_app(
    data: Path, timeout: float = 180, port: int | None = None, **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python app.py`` over the data dir ``data`` on a loopback port (a free one unless given).

    Yields (url, process).
    """
    port = port or free_port()
    environ = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}
    environ.update(HF_HUB_OFFLINE="1", ASSISTANT_DATA_DIR=str(data), GRADIO_SERVER_PORT=str(port), **env)
    command = [sys.executable, "app.py"]
    with process(command, data / "app.log", lambda: listening(port), timeout, "the app", cwd=ROOT, env=environ) as proc:
        yield f"http://127.0.0.1:{port}/", proc


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server programs (initdb, postgres), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@contextmanager
def postgres(folder: Path, timeout: float = 60) -> Iterator[str]:
    """A real PostgreSQL server of its own (initdb in a fresh folder, then postgres on a free
    loopback port, trusting local connections, its log in ``folder``); yields the URL of a fresh
    database "coach" on it. Removes its data on the way out.

    As root, the server runs as the ``postgres`` user that Debian's package creates (PostgreSQL
    refuses to run as root). Raises RuntimeError when the programs are missing."""
    import shutil
    import tempfile

    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="coach-postgres-"))  # in /tmp: the postgres user can reach it
    try:
        if as_user:
            shutil.chown(home, "postgres", "postgres")
        data = home / "data"
        initdb = [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run(initdb, check=True, capture_output=True)
        port = free_port()
        command = [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(home)]
        command += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
        with process(command, folder / "postgres.log", lambda: listening(port), timeout, "postgres"):
            base = f"postgresql://postgres@127.0.0.1:{port}"
            create = ["psql", f"{base}/postgres", "-qc", "CREATE DATABASE coach"]
            subprocess.run(create, check=True, capture_output=True)
            yield f"{base}/coach"
    finally:
        shutil.rmtree(home, ignore_errors=True)
