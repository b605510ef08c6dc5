"""`wabot actions`: the flows as a Rasa action server."""
from __future__ import annotations

import click

from bot.cli.context import Context, pass_context


@click.command("actions")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 when Rasa runs in another container).")
@click.option("--port", default=5055, show_default=True, type=click.IntRange(1, 65535),
              help="Rasa's default action server port.")
@pass_context
def actions(ctx: Context, host: str, port: int) -> None:
    """Serve the flows as a Rasa action server (rasa-sdk); point Rasa's action_endpoint here."""
    from bot.cli.serving import check_port
    from flows.action_server import serve
    from segments.membership import current_segments

    ctx.features()  # a bad configuration, then a busy port: one line each, before anything changes
    check_port(host, port)
    runtime = ctx.runtime(warn=True)
    click.echo(f"wabot actions serving on http://{host}:{port}/webhook — action_endpoint for Rasa's endpoints.yml")
    serve(runtime.engine, runtime.settings, runtime.features.replies, host=host, port=port,
          segment_lookup=current_segments)
