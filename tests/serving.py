"""Real servers for the tests, on loopback ports: a free port; the API or the console served
by uvicorn in a thread; `backoffice serve` run as a process, with a wait until it answers; and
an SMTP server (aiosmtpd, in process) that keeps what it accepted. Shared by the HTTP, e2e,
integration, fault and browser tests, which import them from here rather than from each
other."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from litestar import Litestar


def free_port() -> int:
    """A loopback port nothing listens on now (the system's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: Litestar, name: str = "served-api") -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port, until the block ends: its
    base address (the browser tests' harness serves the console with it too)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=name)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in 20 s"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "the server did not stop"


def wait_until_up(process: subprocess.Popen[str], base: str) -> None:
    """Until the `backoffice serve` process answers `/healthz` at `base` (30 s at most)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.1)


class Served:
    """A running `backoffice serve` process, its base address, and what it wrote on standard
    error (read once it has stopped)."""

    def __init__(self, process: subprocess.Popen[str], base: str) -> None:
        self.process = process
        self.base = base
        self.stderr = ""


@contextmanager
def backoffice_serve(argv: list[str], env: dict[str, str]) -> Iterator[Served]:
    """`argv` (a `backoffice … serve` command line) run with `env` and `--port` a free
    loopback port, once it answers. On leaving: SIGTERM unless it already ended, at most 20 s
    to stop (killed, and the wait's error raised, past that); it must have ended as asked
    (uvicorn stops gracefully, then lets SIGTERM end the process) without a traceback."""
    port = free_port()
    process = subprocess.Popen(
        [*argv, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    served = Served(process, f"http://127.0.0.1:{port}")
    try:
        wait_until_up(process, served.base)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        served.stderr = process.stderr.read() if process.stderr else ""
        assert code in (0, -signal.SIGTERM), served.stderr
        assert "Traceback" not in served.stderr


class Inbox:
    """What the test SMTP server accepted; refuses any `rechazo@…` recipient with 550."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("rechazo@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    """An SMTP server on 127.0.0.1:`port` while the block lasts, its messages in `inbox`;
    `kwargs` go to aiosmtpd's controller (TLS, authentication)."""

    def __init__(self, port: int, **kwargs: Any) -> None:
        self.inbox = Inbox()
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=port, auth_require_tls=False, **kwargs
        )
        self.port = port

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
