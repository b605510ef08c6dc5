"""Running the whole product from one command (`wabot serve`, `wabot demo`): the start checks,
the development app secret, and the processes: N gunicorn HTTP workers and one background
process (inbound worker, sender, scheduler), supervised together (bot/cli/supervisor.py)."""
from __future__ import annotations

import os
import shutil
import tempfile

import click

from bot.cli.context import Context, describe_database, run_until_signalled
from bot.cli.supervisor import Child, Supervisor
from bot.core import devsecret
from bot.core.config import Settings
from bot.pipeline import metrics
from bot.runtime import Features, Runtime


def app_secret_notice(settings: Settings) -> tuple[Settings, str]:
    """With no WABOT_APP_SECRET, a development secret in a file that `wabot chat` reads too."""
    if settings.app_secret:
        return settings, "webhook signatures checked with WABOT_APP_SECRET"
    path = devsecret.dev_secret_path()
    secret = devsecret.load_or_create(path)
    return settings.with_app_secret(secret), f"no WABOT_APP_SECRET: development secret stored in {path}"


BACKGROUND_NICENESS = 0


def default_workers() -> int:
    return os.cpu_count() or 1


def run_server(ctx: Context, host: str, port: int, threads: int = 8, workers: int | None = None,
               notes: tuple[str, ...] = ()) -> None:
    """Serve until stopped. The configuration is checked and the schema upgraded here, before
    any child starts; each child then builds its Runtime from the same checked features."""
    from bot.web.server import WabotServer
    from webhook import create_app

    workers = workers or default_workers()
    runtime = ctx.runtime(warn=True)
    runtime.engine.dispose()  # no pooled connection crosses a fork
    features = runtime.features
    settings, secret_line = app_secret_notice(runtime.settings)
    transport = "sandbox transport (messages are recorded, not sent)" if settings.sandbox else \
        f"Graph API {settings.graph_url}/{settings.graph_version}"

    def started() -> None:
        click.echo(f"wabot serving on http://{host}:{port} — {describe_database(settings.database_url)}, {transport}; "
                   f"{workers} HTTP process{'es' if workers != 1 else ''} and a background process "
                   f"(inbound worker, sender, scheduler)")
        click.echo(secret_line)
        if settings.sandbox:
            click.echo(f"chat in the browser: http://{host}:{port}/sandbox — or: wabot chat --as 15551234567 "
                       f"--url http://{host}:{port}")
        for note in notes:
            click.echo(note)

    metrics_dir = tempfile.mkdtemp(prefix="wabot-metrics-")

    def http() -> None:
        metrics.share_across_processes(metrics_dir)
        WabotServer(lambda: create_app(runtime_=Runtime.from_settings(settings, features=features)),
                    host=host, port=port, workers=workers, threads=threads, on_started=started).run()

    def background() -> None:
        metrics.share_across_processes(metrics_dir)
        # Acknowledging Meta's webhooks comes first: when the CPUs are short, the HTTP processes
        # get them and the background catches up after the burst (docs/performance.md).
        os.nice(BACKGROUND_NICENESS)
        run_background(settings, features)

    try:
        status = Supervisor([Child("http", http, restart=False), Child("background", background, restart=True)]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if status:
        raise SystemExit(status)


def run_background(settings: Settings, features: Features) -> None:
    """The inbound worker, the sender and the scheduler (standing by unless it holds the lock),
    until SIGTERM or SIGINT."""
    runtime = Runtime.from_settings(settings, features=features)
    run_until_signalled(lambda: runtime.start_background(scheduler=True), runtime.close, None)
