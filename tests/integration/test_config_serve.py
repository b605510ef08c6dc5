"""`wabot serve` refuses, as a real process, a configuration that fails the start checks: one line,
exit status 2."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import make_env

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only


def test_serve_refuses_a_bad_configuration_with_one_line(database_url, tmp_path):
    (tmp_path / "wabot.toml").write_text("[segments.vipish]\nrule = 'in_segment(\"vips\")'\n")
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("wabot: error: [segments.vipish]")
    assert len(result.stderr.strip().splitlines()) == 1
