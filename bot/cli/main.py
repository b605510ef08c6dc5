"""The `wabot` command line."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Callable

import click

from bot.core import db, devsecret
from bot.core.config import Settings, load_settings
from bot.core.errors import WabotError

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
    from bot.campaigns.runs import check_audiences
    from segments.engine import SegmentEngine

    SegmentEngine(settings)
    check_audiences(settings)  # a campaign naming an unknown segment or a bad rule
    for warning in settings.warnings():
        log.warning(warning)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="HTTP threads.")
@pass_context
def serve(ctx: Context, host: str, port: int, threads: int) -> None:
    """HTTP server, inbound worker, outbox sender and scheduler in one process."""
    run_server(ctx.settings, host, port, threads)


def prepare(settings: Settings) -> Settings:
    """Check the configuration, settle the app secret and bring the schema up to date."""
    from flows.checks import check_settings

    check_settings(settings)
    check_configuration(settings)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    return settings


def run_server(settings: Settings, host: str, port: int, threads: int = 8, notes: tuple[str, ...] = ()) -> None:
    from bot.web.server import WabotServer
    from webhook import create_app

    settings, secret_line = app_secret_notice(prepare(settings))
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

    WabotServer(lambda: create_app(settings), host=host, port=port, threads=threads, on_started=started).run()


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Seed the demo store only.")
@pass_context
def demo(ctx: Context, host: str, port: int, no_serve: bool) -> None:
    """Seed a demo store (customers, orders, chat history) and run `serve`."""
    from bot.cli.demo import demo_settings, seed
    from bot.core.times import utcnow

    settings = prepare(demo_settings(ctx.settings))
    engine = db.make_engine(settings.database_url)
    summary = seed(engine, settings, utcnow())
    engine.dispose()
    in_segments = ", ".join(f"{name} {count}" for name, count in summary.segments.items() if count)
    lines = (
        f"demo store seeded: {summary.products} products, {summary.customers} customers, {summary.orders} orders, "
        f"{summary.messages} chat messages ({describe_database(settings.database_url)})",
        f"segments: {in_segments}",
        "try: " + "; ".join(f"{persona} {wa_id}" for persona, wa_id in summary.sample_wa_ids.items()),
        f"agent console: http://{host}:{port}/agent" + ("" if settings.agent_tokens else
                                                        " (set WABOT_AGENT_TOKENS=name:token to sign in)"),
    )
    if no_serve:
        if ctx.settings.config_path is None:
            lines += ("serve it with `wabot demo` (seeding is idempotent) to keep the demo's store settings: "
                      "plain `wabot serve` uses ./wabot.toml or the built-in defaults",)
        for line in lines:
            click.echo(line)
        return
    run_server(settings, host, port, notes=lines)


@cli.command()
@click.option("--concurrency", default=8, show_default=True, type=int, help="Parallel sends.")
@pass_context
def worker(ctx: Context, concurrency: int) -> None:
    """The inbound worker and the outbox sender, without HTTP."""
    from bot.runtime import Runtime

    runtime = Runtime.from_settings(prepare(ctx.settings))
    run_until_signalled(runtime.start_background, runtime.stop,
                        f"wabot worker running — {describe_database(ctx.settings.database_url)}")


def run_until_signalled(start: Callable[[], None], stop: Callable[[], None], banner: str) -> None:
    """Start a background service, say so, and stop it cleanly on SIGINT or SIGTERM."""
    signalled = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: signalled.set())
    start()
    click.echo(banner)
    signalled.wait()
    stop()


@cli.command()
@click.option("--as", "wa_id", required=True, help="The customer's WhatsApp id (E.164 digits, no +).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running server.")
@click.option("--name", default=None, help="Profile name to send.")
def chat(wa_id: str, url: str, name: str | None) -> None:
    """Chat with a running server as a customer; prints the bot's replies as they arrive."""
    from bot.cli.chat import ChatClient, run

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
    from bot.cli.campaigns import COMMANDS as campaign_commands
    from bot.cli.actions import actions
    from bot.cli.segments import COMMANDS as segment_commands

    for command in (actions, *segment_commands, *campaign_commands):
        cli.add_command(command)


_register_feature_commands()


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="wabot", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as exc:  # one line, as every other error (click's own adds the usage)
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        click.echo(f"wabot: error: {exc.format_message()}{hint}", err=True)
        return exc.exit_code
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

