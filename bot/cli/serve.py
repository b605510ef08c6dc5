"""`wabot serve`, `wabot worker` and `wabot db upgrade`: the long-running processes and the schema."""
from __future__ import annotations

import click

from bot.cli.context import Context, describe_database, pass_context, run_until_signalled
from bot.cli.serving import run_server


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int, help="HTTP threads.")
@pass_context
def serve(ctx: Context, host: str, port: int, threads: int) -> None:
    """HTTP server, inbound worker, outbox sender and scheduler in one process."""
    run_server(ctx, host, port, threads)


@click.command()
@click.option("--concurrency", default=8, show_default=True, type=int, help="Parallel sends.")
@pass_context
def worker(ctx: Context, concurrency: int) -> None:
    """The inbound worker and the outbox sender, without HTTP."""
    runtime = ctx.runtime(warn=True)
    run_until_signalled(runtime.start_background, runtime.stop,
                        f"wabot worker running — {describe_database(ctx.settings.database_url)}")


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply schema migrations (Alembic)."""
    ctx.runtime()  # builds the engine and brings the schema to the newest revision
    click.echo(f"schema up to date ({describe_database(ctx.settings.database_url)})")


COMMANDS = (serve, worker, db_group)
