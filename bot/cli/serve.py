"""`wabot serve`, `wabot worker` and `wabot db upgrade`: the long-running processes and the schema."""
from __future__ import annotations

import click

from bot.cli.context import Context, describe_database, pass_context, run_until_signalled
from bot.cli.serving import run_server
from bot.pipeline.sandbox import StatusPlan


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0: a free one, chosen at start.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="HTTP processes (default: the number of CPUs).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per HTTP process.")
@click.option("--sandbox-statuses", is_flag=True,
              help="With the sandbox transport: simulate delivered and read statuses for what is sent, "
                   "as `wabot demo` does (docs/sending.md).")
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int | None, threads: int, sandbox_statuses: bool) -> None:
    """The whole product under one command: N HTTP processes and one process for the inbound
    worker, the outbox sender and the scheduler. Ctrl-C stops them all."""
    run_server(ctx, host, port, threads, workers, sandbox_statuses=StatusPlan() if sandbox_statuses else None)


@click.command()
@click.option("--concurrency", default=None, type=click.IntRange(1, 256),
              help="Sends in flight at once (default: enough for WABOT_RATE_LIMIT).")
@click.option("--inbound-threads", default=None, type=click.IntRange(1, 32),
              help="Threads processing inbound events (PostgreSQL; default 4; SQLite: always 1).")
@pass_context
def worker(ctx: Context, concurrency: int | None, inbound_threads: int | None) -> None:
    """The inbound worker and the outbox sender, without HTTP."""
    runtime = ctx.runtime(warn=True)
    run_until_signalled(lambda: runtime.start_background(concurrency=concurrency, inbound_threads=inbound_threads),
                        runtime.stop,
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
