"""`backoffice serve` as a real server process on a loopback port (issue 13): sign-in with a
password made by `backoffice users add`, a command recorded as the signed-in user, a stale
`If-Match`, idempotent intake with a token, problem details, the OpenAPI document, and a
graceful stop on SIGTERM. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import backoffice_serve

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(sys.executable).parent / "backoffice")
PASSWORD = "una clave bien larga"


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[str] | None = None

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run([SCRIPT, *args], input=stdin, capture_output=True, text=True,
                              env=self.env, timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "PG"))}
    env["BACKOFFICE_DATA_DIR"] = str(tmp_path / "data")
    env["BACKOFFICE_SECURE_COOKIES"] = "false"  # plain HTTP on the loopback
    if request.param == "postgres":
        env["BACKOFFICE_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        env["BACKOFFICE_SESSION_SECRET"] = "ab" * 32
    helper = Server(env)
    helper.cli("ingest", str(ROOT / "examples" / "crm_export_sample.csv"))
    helper.cli("users", "add", "maria.b", "--role", "agent", "--name", "María B",
               "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    helper.cli("users", "add", "crm-front", "--role", "integration", "--name", "CRM")
    helper.cli("users", "add", "sup.lina", "--role", "supervisor", "--name", "Lina",
               "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    with backoffice_serve([SCRIPT, "serve"], env) as served:
        helper.process = served.process
        yield helper, served.base


def test_a_real_server_serves_an_agents_work_and_an_integrations_hand_over(
    server: tuple[Server, str],
) -> None:
    helper, base = server
    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/cases").status_code == 401
        signed = client.post("/session", json={"login": "maria.b", "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
        [row] = client.get("/cases", params={"search": "CRM-260001"}).json()
        case = row["case_id"]
        seen = client.get(f"/cases/{case}")
        etag = seen.headers["etag"]
        took = client.post("/commands/assign-case", json={"case": case, "agent": "maria.b"},
                           headers={**csrf, "If-Match": etag})  # fmt: skip
        assert took.status_code == 200, took.text
        assert took.json()["events"][0]["actor"] == "agent:maria.b"
        stale = client.post("/commands/add-note", json={"case": case, "text": "Llamé"},
                            headers={**csrf, "If-Match": etag})  # fmt: skip
        assert stale.status_code == 412
        assert stale.headers["content-type"].startswith("application/problem+json")
        history = client.get(f"/cases/{case}/history").json()
        assert history[-1]["event"] == "case.assigned"
        assert client.get("/schema/openapi.json").json()["openapi"].startswith("3.1")
    secret = helper.cli("tokens", "add", "crm-front", "--scope", "intake").strip().split()[-1]
    auth = {"Authorization": f"Bearer {secret}"}
    row = {"crm_case_id": "CRM-990001", "received_at": "2026-12-01T08:00:00-05:00",
           "account": "80099001", "line": "móvil", "customer_name": "Luis Gómez",
           "typification": "Roaming", "phone": "+57 310 555 0001"}  # fmt: skip
    first = httpx.post(f"{base}/intake/crm", json=row, headers=auth, timeout=10)
    again = httpx.post(f"{base}/intake/crm", json=row, headers=auth, timeout=10)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["outcome"] == "known"
    assert first.json()["case"]["case_id"] == again.json()["case"]["case_id"]


def test_sigterm_ends_open_event_streams_and_stops_at_once(server: tuple[Server, str]) -> None:
    """A live stream never ends by itself: the server ends it when told to stop, instead of
    waiting out its 10-second grace for open connections."""
    helper, base = server
    assert helper.process is not None
    received: list[str] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post("/session", json={"login": "sup.lina", "password": PASSWORD})

        def follow() -> None:
            with client.stream("GET", "/events") as stream:
                for line in stream.iter_lines():
                    received.append(line)

        reader = threading.Thread(target=follow)
        reader.start()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert received, "the stream opened"
        started = time.monotonic()
        helper.process.send_signal(signal.SIGTERM)
        helper.process.wait(timeout=20)
        stopped = time.monotonic() - started
        reader.join(timeout=10)
    assert stopped < 5, f"stopped after {stopped:.1f} s"
