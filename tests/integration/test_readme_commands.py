"""The README's two commands, as a newcomer runs them, in a new virtual environment.

The environment sees the machine's installed packages (`--system-site-packages`), so pip resolves the
requirements without downloading them; what is tested is that the commands, as the README writes
them, install wabot into a fresh environment and that what they run works: `wabot demo` serves the
seeded store (its sandbox page, its console pages, a greeting), and the test command collects the suite.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port

README = (ROOT / "README.md").read_text()
pytestmark = pytest.mark.database_agnostic  # the README's commands run on SQLite


def command_under(heading: str) -> str:
    """The shell command in the first ```sh block after a README heading."""
    section = README.split(f"## {heading}", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).strip()


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(where)], check=True)
    return where


def shell(command: str, venv: Path, log: Path, **env: str) -> subprocess.Popen:
    """`command` as a shell runs it with the virtual environment activated, its output in `log`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WABOT_")}
    environ.update(PATH=f"{venv / 'bin'}:{environ['PATH']}", VIRTUAL_ENV=str(venv), **env)
    with log.open("w") as out:
        return subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=environ, stdout=out,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_the_run_command_installs_and_serves_the_demo(venv, tmp_path):
    command = command_under("Run it")
    assert command.startswith("python3 -m pip install -e .") and command.endswith("wabot demo")
    port = free_port()
    # The README's command, with the port and the database of this test (the defaults may be in use).
    log = tmp_path / "demo.log"
    process = shell(f"{command} --port {port}", venv, log, WABOT_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()[-2000:]
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("the demo did not answer within 240 s")
        assert (venv / "bin" / "wabot").exists()  # installed into the new environment
        for page in ("/sandbox", "/agent", "/admin"):
            assert requests.get(url + page, timeout=5).status_code == 200, page
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    output = log.read_text()
    assert "demo store seeded" in output and "Traceback" not in output
    assert re.search(r"agent console: \S+/agent \(token \S+\)", output)


def test_the_test_command_installs_and_collects_the_suite(venv, tmp_path):
    command = command_under("Run the tests")
    assert command == "python3 -m pip install -e '.[test]' && python3 -m pytest"
    # The suite itself is what CI runs; here the command must install and pytest find every test.
    log = tmp_path / "test-command.log"
    process = shell(f"{command} --collect-only -q -p no:cacheprovider", venv, log)
    process.wait(timeout=600)
    output = log.read_text()
    assert process.returncode == 0, output[-2000:]
    collected = re.search(r"(\d+) tests? collected", output)
    assert collected and int(collected.group(1)) > 1000, output[-500:]
