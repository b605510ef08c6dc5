"""Run a `wabot` command in this process, the way `python -m bot.cli` runs it in another one.

Through the real entry point, bot.cli.main.main, which turns errors into one-line `wabot: error: ...`
messages and exit codes; click's CliRunner provides the streams and the environment. What a separate
process would have had to itself is given back afterwards: the working directory, the environment,
the logging configuration (`setup_logging` calls logging.basicConfig), and the database engines the
command made (disposed, as a process exit would close their connections).

For commands that must be a process of their own (serve, worker, scheduler, actions: a server left
running, a signal, a kill), use conftest.start_process or subprocess.
"""
from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Mapping, Sequence
from unittest import mock

from click.testing import CliRunner

from bot.cli.main import main
from bot.core import db


def run_cli(args: Sequence[str | os.PathLike], env: Mapping[str, str] | None = None,
            cwd: str | os.PathLike | None = None, input: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
    """`wabot ARGS`, in process. `env` is the whole environment, as for subprocess.run: variables
    that are not in it are unset for the run (None: this process's environment). `cwd` is where
    the command runs (`wabot.toml` is looked up there). Returns what
    `subprocess.run(..., capture_output=True, text=True)` would: returncode, stdout, stderr apart."""
    argv = [os.fspath(arg) for arg in args]
    overrides: dict[str, str | None] | None = None
    if env is not None:
        overrides = {key: None for key in os.environ if key not in env}
        overrides.update(env)
    runner = CliRunner()
    with _working_directory(cwd), _own_logging(), _engines_disposed(), \
            runner.isolation(input=input, env=overrides) as (out, err, _mixed):
        try:
            returncode = main(argv)
        except SystemExit as exc:  # as the interpreter would turn it into an exit status
            returncode = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue().decode(runner.charset), err.getvalue().decode(runner.charset)
    result = subprocess.CompletedProcess(["wabot", *argv], returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result


@contextlib.contextmanager
def _working_directory(cwd: str | os.PathLike | None) -> Iterator[None]:
    if cwd is None:
        yield
        return
    before = os.getcwd()
    os.chdir(Path(cwd))
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _own_logging() -> Iterator[None]:
    """The command configures logging as in a fresh process: no root handlers yet (pytest's are
    set aside), so logging.basicConfig writes to the command's stderr. Put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    root.handlers.clear()
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, logger in logging.Logger.manager.loggerDict.items():
            if isinstance(logger, logging.Logger) and logger.level != levels.get(name, logging.NOTSET):
                logger.setLevel(levels.get(name, logging.NOTSET))  # `setup_logging` quiets urllib3...


@contextlib.contextmanager
def _engines_disposed() -> Iterator[None]:
    made: list = []
    make_engine = db.make_engine

    def recording(*args, **kwargs):
        engine = make_engine(*args, **kwargs)
        made.append(engine)
        return engine

    with mock.patch.object(db, "make_engine", recording):
        try:
            yield
        finally:
            for engine in made:
                engine.dispose()
