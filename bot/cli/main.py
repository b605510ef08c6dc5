"""The `wabot` command line: the group, its commands gathered from bot/cli/, and the one place
that turns every error into one line and an exit code."""
from __future__ import annotations

import click

from bot.cli import actions, automations, campaigns, chat, demo, events, outbox, segments, serve, shopify
from bot.cli.context import Context, setup_logging
from bot.core.errors import WabotError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """wabot: a segment-aware WhatsApp chatbot for online stores."""
    ctx.obj = Context()
    setup_logging(verbose)


for command in (*serve.COMMANDS, demo.demo, chat.chat, actions.actions, *segments.COMMANDS, *campaigns.COMMANDS,
                *events.COMMANDS, *outbox.COMMANDS, *shopify.COMMANDS, *automations.COMMANDS):
    cli.add_command(command)


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
