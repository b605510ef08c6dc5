"""The `wabot` command line."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click

from bot import db, devsecret
from bot.config import Settings, load_settings
from bot.errors import WabotError

log = logging.getLogger("wabot")


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # Library chatter would repeat what our own lines say.
    for noisy in ("urllib3", "apscheduler", "alembic", "sanic", "rasa_sdk"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Context:
    """Settings are read lazily, so `wabot --help` works with a broken configuration."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """wabot: a segment-aware WhatsApp chatbot for online stores."""
    ctx.obj = Context()
    setup_logging(verbose)


def describe_database(url: str) -> str:
    if url.startswith("sqlite"):
        return f"SQLite {url.split(':///', 1)[-1]}"
    return "PostgreSQL" if url.startswith("postgres") else url.split(":", 1)[0]


def app_secret_notice(settings: Settings) -> tuple[Settings, str]:
    """With no WABOT_APP_SECRET, a development secret in a file that `wabot chat` reads too."""
    if settings.app_secret:
        return settings, "webhook signatures checked with WABOT_APP_SECRET"
    path = devsecret.dev_secret_path()
    secret = devsecret.load_or_create(path)
    return settings.with_app_secret(secret), f"no WABOT_APP_SECRET: development secret stored in {path}"


def check_configuration(settings: Settings) -> None:
    """Refuse, before anything starts, a configuration a feature cannot use (a bad segment rule...)."""
    from segments.engine import SegmentEngine

    SegmentEngine(settings)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="HTTP threads.")
@pass_context
def serve(ctx: Context, host: str, port: int, threads: int) -> None:
    """HTTP server, inbound worker, outbox sender and scheduler in one process."""
    from bot.server import WabotServer
    from flows.checks import check_settings
    from webhook import create_app

    check_settings(ctx.settings)
    settings, secret_line = app_secret_notice(ctx.settings)
    check_configuration(settings)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    transport = "sandbox transport (messages are recorded, not sent)" if settings.sandbox else \
        f"Graph API {settings.graph_url}/{settings.graph_version}"

    def started() -> None:
        click.echo(f"wabot serving on http://{host}:{port} — {describe_database(settings.database_url)}, {transport}")
        click.echo(secret_line)
        if settings.sandbox:
            click.echo(f"chat with it: wabot chat --as 15551234567 --url http://{host}:{port}")

    WabotServer(lambda: create_app(settings), host=host, port=port, threads=threads, on_started=started).run()


@cli.command()
@click.option("--concurrency", default=8, show_default=True, type=int, help="Parallel sends.")
@pass_context
def worker(ctx: Context, concurrency: int) -> None:
    """The inbound worker and the outbox sender, without HTTP."""
    from bot.runtime import Runtime
    from flows.checks import check_settings

    check_settings(ctx.settings)
    check_configuration(ctx.settings)
    runtime = Runtime.from_settings(ctx.settings)
    db.upgrade(runtime.engine)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    runtime.start_background()
    click.echo(f"wabot worker running — {describe_database(ctx.settings.database_url)}")
    stop.wait()
    runtime.stop()


@cli.command()
@click.option("--as", "wa_id", required=True, help="The customer's WhatsApp id (E.164 digits, no +).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running server.")
@click.option("--name", default=None, help="Profile name to send.")
def chat(wa_id: str, url: str, name: str | None) -> None:
    """Chat with a running server as a customer; prints the bot's replies as they arrive."""
    from bot.chat import ChatClient, run

    if not wa_id.isdigit():
        raise WabotError(f"--as takes a WhatsApp id in digits, such as 15551234567, not {wa_id!r}")
    secret = os.environ.get("WABOT_APP_SECRET") or devsecret.read(devsecret.dev_secret_path())
    if not secret:
        raise WabotError("no app secret: set WABOT_APP_SECRET, or start `wabot serve` first on this machine")
    run(ChatClient(url, wa_id, secret, name=name))


@cli.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply schema migrations (Alembic)."""
    engine = db.make_engine(ctx.settings.database_url)
    db.upgrade(engine)
    click.echo(f"schema up to date ({describe_database(ctx.settings.database_url)})")


def _register_feature_commands() -> None:
    """Commands of the other features live beside their code; each adds its group here."""
    from flows.cli import actions
    from segments.cli import COMMANDS as segment_commands

    for command in (actions, *segment_commands):
        cli.add_command(command)


_register_feature_commands()


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="wabot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except WabotError as exc:
        click.echo(f"wabot: error: {exc}", err=True)
        return 2
    except OSError as exc:
        click.echo(f"wabot: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), err=True)
        return 2
    except Exception as exc:  # a database that is down, a server that cannot bind...
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            click.echo(f"wabot: error: database: {str(exc.orig if getattr(exc, 'orig', None) else exc).splitlines()[0]}",
                       err=True)
            return 2
        raise
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
