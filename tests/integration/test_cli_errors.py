"""Bad input to any command is one line on stderr, a non-zero exit, no traceback, and nothing changed:
database URLs of other dialects or drivers, port numbers out of range, a port something else listens
on (checked before `wabot demo` seeds anything)."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.core.tables import customers
from tests.conftest import free_port, make_env
from tests.support.cli import run_cli

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only

BAD_URLS = {
    "mysql://root:secret@127.0.0.1/wabot": "mysql:// is not supported",
    "mysql+pymysql://root@127.0.0.1/wabot": "mysql+pymysql:// is not supported",
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test": "postgresql+psycopg2:// names the psycopg2 driver",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/test": "postgresql+asyncpg:// names the asyncpg driver",
    "garbage": "WABOT_DATABASE_URL is not a database URL",
    "wabot.db": "WABOT_DATABASE_URL is not a database URL",
}
COMMANDS = [["db", "upgrade"], ["segments", "list"], ["serve", "--port", "1"], ["demo", "--no-serve"],
            ["demo", "--port", "1"], ["worker"], ["actions", "--port", "1"], ["campaigns", "list"]]


def one_line_error(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("wabot: error: "), lines[0]
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_a_database_url_of_another_kind_is_one_line_naming_what_is_supported(url, args, tmp_path):
    result = run_cli(args, env=make_env(url, tmp_path), cwd=tmp_path)
    line = one_line_error(result, BAD_URLS[url])
    assert result.returncode == 2
    assert "SQLite" in line or "psycopg 3" in line
    assert "secret" not in line  # a URL's password is never repeated
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a database file


@pytest.mark.parametrize("args", [["serve", "--port", "99999"], ["serve", "--port", "-1"], ["actions", "--port", "-5"],
                                  ["actions", "--port", "0"], ["actions", "--port", "65536"], ["demo", "--port", "0"],
                                  ["demo", "--port", "99999"], ["demo", "--port", "eighty"],
                                  ["serve", "--workers", "0"]],
                         ids=lambda a: " ".join(a))
def test_a_port_out_of_range_is_a_usage_error(args, database_url, tmp_path):
    result = run_cli(args, env=make_env(database_url, tmp_path), cwd=tmp_path)
    one_line_error(result, "Invalid value for")
    assert result.returncode == 2


def wabot_process(args: list[str], database_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """A process of its own: should the check let the port through, a server starts and times out."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True,
                          env=make_env(database_url, tmp_path), cwd=tmp_path, timeout=120)


@pytest.fixture
def busy_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize("command", [["serve"], ["demo"], ["actions"]], ids=lambda a: a[0])
def test_a_busy_port_is_one_line_and_changes_nothing(command, busy_port, database_url, tmp_path):
    result = wabot_process([*command, "--port", str(busy_port)], database_url, tmp_path)
    one_line_error(result, f"port {busy_port} is in use")
    assert result.stdout == ""
    if database_url.startswith("sqlite"):
        assert not Path(database_url.split(":///", 1)[1]).exists()  # not even the schema was written
    else:
        engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table(customers.name)
        engine.dispose()


def test_demo_checks_the_port_before_it_seeds(busy_port, database_url, tmp_path, engine):
    result = wabot_process(["demo", "--port", str(busy_port)], database_url, tmp_path)
    one_line_error(result, f"port {busy_port} is in use")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one() == 0


def test_a_host_that_is_not_this_machine_is_one_line(database_url, tmp_path):
    result = wabot_process(["serve", "--host", "192.0.2.1", "--port", str(free_port())], database_url, tmp_path)
    one_line_error(result, "cannot listen on 192.0.2.1")


def test_serve_refuses_a_bad_configuration_before_the_port(busy_port, database_url, tmp_path):
    (tmp_path / "bad.toml").write_text("[store]\ncolour = 'blue'\n")
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "bad.toml"))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", str(busy_port)], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120)
    one_line_error(result, "unknown key")


def test_serve_on_port_0_serves_on_a_free_port_it_names(database_url, tmp_path):
    from tests.conftest import start_process, wait_healthy

    log_path = tmp_path / "serve.log"
    process = start_process(["serve", "--port", "0", "--workers", "1"], make_env(database_url, tmp_path), tmp_path,
                            log_path)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"wabot serving on (http://127\.0\.0\.1:(\d+))", log_path.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        assert int(found.group(2)) > 0
        wait_healthy(found.group(1), process, log_path)
    finally:
        process.terminate()
        process.wait(20)
