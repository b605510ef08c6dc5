"""`wabot actions`: the flows as a Rasa action server."""
from __future__ import annotations

import click


@click.command("actions")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 when Rasa runs in another container).")
@click.option("--port", default=5055, show_default=True, type=int, help="Rasa's default action server port.")
@click.pass_obj
def actions(ctx, host: str, port: int) -> None:  # noqa: ANN001 - bot.cli.main.Context
    """Serve the flows as a Rasa action server (rasa-sdk); point Rasa's action_endpoint here."""
    from bot.core import db
    from flows.action_server import serve
    from flows.checks import check_settings
    from segments.membership import current_segments

    settings = ctx.settings
    replies = check_settings(settings)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    click.echo(f"wabot actions serving on http://{host}:{port}/webhook — action_endpoint for Rasa's endpoints.yml")
    serve(engine, settings, replies, host=host, port=port, segment_lookup=current_segments)
