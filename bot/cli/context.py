"""What every command shares: the settings, read lazily, and the process's one Runtime.

A leaf of bot/cli: command modules import this, never each other, and bot/cli/main.py only
gathers them into the `wabot` group (docs/architecture.md).
"""
from __future__ import annotations

import logging
import signal
import sys
from typing import Callable

import click

from bot.core import db, logmask
from bot.core.config import Settings, load_settings
from bot.runtime import Features, Runtime, check_configuration

log = logging.getLogger("wabot")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Library chatter would repeat what our own lines say.
    for noisy in ("urllib3", "apscheduler", "alembic", "sanic", "rasa_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logmask.install()


class Context:
    """Settings are read lazily, so `wabot --help` works with a broken configuration; the Runtime
    is built on first use, once, and closed when the command ends."""

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings
        self._features: Features | None = None
        self._warned = False
        self._runtime: Runtime | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def use_settings(self, settings: Settings) -> None:
        """Commands that adjust the settings (the demo's store, a development app secret) do so
        before the Runtime is built."""
        if self._runtime is not None:
            raise RuntimeError("the runtime is built already")
        self._settings = settings
        self._features = None

    def features(self, *, warn: bool = False) -> Features:
        """The configuration checked, without touching the database: commands check what they
        were given (configuration, ports) before they change anything. `warn`: also log the
        configuration's warnings (the long-running processes do), once."""
        if self._features is None:
            db.check_url(self.settings.database_url)
            self._features = check_configuration(self.settings) if warn else Features.build(self.settings)
            self._warned = warn
        elif warn and not self._warned:  # checked quietly first (`serve` checks the port before it warns)
            for warning in self._features.warnings(self.settings):
                log.warning(warning)
            self._warned = True
        return self._features

    def runtime(self, *, warn: bool = False) -> Runtime:
        """The Runtime of this command, its configuration checked and its schema up to date.
        `warn`: also log the configuration's warnings (the long-running processes do)."""
        if self._runtime is None:
            settings = self.settings
            features = self.features(warn=warn)
            runtime = Runtime.from_settings(settings, features=features)
            try:
                db.upgrade(runtime.engine)
            except BaseException:
                runtime.close()
                raise
            self._runtime = runtime
            click_context = click.get_current_context(silent=True)
            if click_context is not None:
                click_context.call_on_close(self.close)
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def current() -> Context:
    """The running command's Context (the `wabot` group makes it)."""
    return click.get_current_context().ensure_object(Context)


pass_context = click.make_pass_decorator(Context, ensure=True)


def describe_database(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite {url.split(':///', 1)[-1]}"
    return "PostgreSQL" if url.startswith("postgres") else url.split(":", 1)[0]


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None], banner: str | None) -> None:
    """Start a background service, say so, and stop it cleanly on SIGINT or SIGTERM.

    The signals are blocked before any thread starts (threads inherit the mask) and taken with
    sigwait: no handler runs in the middle of other code, so a second Ctrl-C, or a SIGTERM on
    top of a SIGINT, cannot deadlock the stop on a lock the interrupted code holds."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        start()
        if banner:
            click.echo(banner)
        signal.sigwait(STOP_SIGNALS)
        stop()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
