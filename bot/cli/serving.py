"""Running the whole product from one command (`wabot serve`, `wabot demo`): the start checks,
the development app secret, and gunicorn with the background work beside the HTTP threads."""
from __future__ import annotations

import click

from bot.cli.context import Context, describe_database
from bot.core import devsecret
from bot.core.config import Settings
from bot.runtime import Runtime


def app_secret_notice(settings: Settings) -> tuple[Settings, str]:
    """With no WABOT_APP_SECRET, a development secret in a file that `wabot chat` reads too."""
    if settings.app_secret:
        return settings, "webhook signatures checked with WABOT_APP_SECRET"
    path = devsecret.dev_secret_path()
    secret = devsecret.load_or_create(path)
    return settings.with_app_secret(secret), f"no WABOT_APP_SECRET: development secret stored in {path}"


def run_server(ctx: Context, host: str, port: int, threads: int = 8, notes: tuple[str, ...] = ()) -> None:
    """Serve until stopped. The configuration is checked and the schema upgraded here, before
    gunicorn starts; its worker process then builds its Runtime from the same checked features."""
    from bot.web.server import WabotServer
    from webhook import create_app

    runtime = ctx.runtime(warn=True)
    runtime.engine.dispose()  # no pooled connection crosses gunicorn's fork
    features = runtime.features
    settings, secret_line = app_secret_notice(runtime.settings)
    transport = "sandbox transport (messages are recorded, not sent)" if settings.sandbox else \
        f"Graph API {settings.graph_url}/{settings.graph_version}"

    def started() -> None:
        click.echo(f"wabot serving on http://{host}:{port} — {describe_database(settings.database_url)}, {transport}")
        click.echo(secret_line)
        if settings.sandbox:
            click.echo(f"chat in the browser: http://{host}:{port}/sandbox — or: wabot chat --as 15551234567 "
                       f"--url http://{host}:{port}")
        for note in notes:
            click.echo(note)

    WabotServer(lambda: create_app(runtime_=Runtime.from_settings(settings, features=features)),
                host=host, port=port, threads=threads, on_started=started).run()
