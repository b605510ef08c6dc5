"""Fixtures that compose: a fresh database per test (SQLite, or a PostgreSQL schema when
WABOT_TEST_DATABASE_URL is set), settings, a fake Graph API, and the real server as a process."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa

from bot.core import db
from bot.core.config import load_settings
from bot.core.signing import meta_signature
from tests.support.fake_graph import DEFAULT_TOKEN, FakeGraph

ROOT = Path(__file__).resolve().parent.parent
# Copied from ../shared/fixtures (public sample payloads, see tests/fixtures/SOURCES.md).
FIXTURES = ROOT / "tests" / "fixtures"
APP_SECRET = "test-app-secret"
TOKEN = DEFAULT_TOKEN

PG_URL = os.environ.get("WABOT_TEST_DATABASE_URL")


def fuzz_examples(count: int) -> int:
    """Examples of a fuzz test that goes through the database, per CI pass: half of `count` on
    SQLite, a third on PostgreSQL (what the database refuses shows within a few hundred; each example
    is a request and a transaction). A local run may ask for all: WABOT_FUZZ_EXAMPLES=full."""
    if os.environ.get("WABOT_FUZZ_EXAMPLES") == "full":
        return count
    return max(100, count // 3 if PG_URL else count // 2)


def pytest_configure(config):
    # When a property fails, hypothesis imports libcst to suggest an explicit example; libcst's
    # import warns (mypy_extensions.TypedDict), and with warnings as errors the whole run ended in
    # an INTERNALERROR that hid the failure and every test after it.
    config.addinivalue_line("filterwarnings", "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning")


def pytest_collection_modifyitems(config, items):
    """CI runs the suite twice, on SQLite and on PostgreSQL; a test that exercises no database
    behaviour (the unit tests, the browser pages, argument checks, the Shopify HTTP client) runs in
    the SQLite pass only, which keeps the two passes within CI's time."""
    if not PG_URL:
        return
    skip = pytest.mark.skip(reason="database-agnostic: runs in the SQLite pass")
    unit = ROOT / "tests" / "unit"
    for item in items:
        # Unit tests take no database at all (none asks for a database fixture).
        if (item.get_closest_marker("database_agnostic") or item.get_closest_marker("browser")
                or unit in Path(item.fspath).parents):
            item.add_marker(skip)


def pytest_report_header(config):
    return f"wabot database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'wabot.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    eng = db.make_engine(database_url)
    db.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """The fake Graph API, checking what Meta checks. A test fails at teardown if anything it made
    the product send was refused by one of those checks (tests/support/fake_graph.py)."""
    fake = FakeGraph().start()
    yield fake
    fake.stop()
    refused = fake.refusal_report()
    if refused:
        pytest.fail("the fake Graph API refused what Meta would refuse:\n" + refused, pytrace=False)


def make_env(database_url: str, tmp_path: Path, graph: FakeGraph | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WABOT_")}
    env.update({
        "WABOT_DATABASE_URL": database_url,
        "WABOT_APP_SECRET": APP_SECRET,
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    if graph is not None:
        env.update({"WABOT_GRAPH_URL": graph.url, "WABOT_GRAPH_VERSION": graph.version,
                    "WABOT_WHATSAPP_TOKEN": graph.token, "WABOT_PHONE_NUMBER_ID": graph.phone_number_id})
    env.update(extra)
    return env


@pytest.fixture
def settings_for(database_url: str, tmp_path: Path):
    """Settings as the product reads them, from an environment built for this test."""
    def build(graph: FakeGraph | None = None, toml: str | None = None, **extra: str):
        env = make_env(database_url, tmp_path, graph, **extra)
        if toml is not None:
            path = tmp_path / "wabot.toml"
            path.write_text(toml)
            env["WABOT_CONFIG"] = str(path)
        return load_settings(env, cwd=tmp_path)
    return build


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed_post(url: str, payload: Mapping | bytes, secret: str = APP_SECRET, **kwargs) -> requests.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(f"{url}/webhook", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(secret, body)}, **kwargs)


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    log_path: Path

    def post(self, payload: Mapping | bytes, secret: str = APP_SECRET) -> requests.Response:
        return signed_post(self.url, payload, secret)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_process(args: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> subprocess.Popen:
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd,
                                stdout=log, stderr=subprocess.STDOUT)


def wait_healthy(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.02)
    raise AssertionError(f"server not healthy after {timeout}s:\n{log_path.read_text()}")


@pytest.fixture
def start_server(database_url: str, tmp_path: Path):
    """Start `wabot serve` as a real process against this test's database; stopped at teardown."""
    started: list[ServerProcess] = []

    def start(graph: FakeGraph | None = None, toml: str | None = None, *, verbose: bool = False,
              workers: int = 1, **extra: str) -> ServerProcess:
        """`verbose`: `wabot -v serve`, debug logging into the server's log. One HTTP process unless
        `workers` says otherwise: the tests of several are in test_serve_processes.py and
        test_scale.py, and each more costs every test its start-up."""
        env = make_env(database_url, tmp_path, graph, **extra)
        if toml is not None:
            path = tmp_path / "wabot.toml"
            path.write_text(toml)
            env["WABOT_CONFIG"] = str(path)
        port = free_port()
        log_path = tmp_path / f"serve-{port}.log"
        process = start_process([*(["-v"] if verbose else []), "serve", "--port", str(port),
                                 "--workers", str(workers)], env, tmp_path, log_path)
        server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
        started.append(server)
        wait_healthy(server.url, process, log_path)
        return server

    yield start
    for server in started:
        server.stop()


def fixture_paths(kind: str) -> list[Path]:
    return sorted((FIXTURES / kind).glob("*.json"))


def load_fixture(kind: str, name: str) -> dict:
    return json.loads((FIXTURES / kind / name).read_text())
