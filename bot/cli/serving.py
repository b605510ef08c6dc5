"""Running the whole product from one command (`wabot serve`, `wabot demo`): the start checks,
the development app secret, and the processes: N gunicorn HTTP workers and one background
process (inbound worker, sender, scheduler), supervised together (bot/cli/supervisor.py)."""
from __future__ import annotations

import errno
import os
import shutil
import socket
import tempfile

import click

from bot.cli.context import Context, describe_database, run_until_signalled
from bot.cli.supervisor import Child, Supervisor
from bot.core import devsecret
from bot.core.config import Settings
from bot.core.errors import WabotError
from bot.pipeline import metrics
from bot.pipeline.sandbox import StatusPlan, StatusSimulator
from bot.runtime import Features, Runtime


def app_secret_notice(settings: Settings) -> tuple[Settings, str]:
    """With no WABOT_APP_SECRET, a development secret in a file that `wabot chat` reads too."""
    if settings.app_secret:
        return settings, "webhook signatures checked with WABOT_APP_SECRET"
    path = devsecret.dev_secret_path()
    secret = devsecret.load_or_create(path)
    return settings.with_app_secret(secret), f"no WABOT_APP_SECRET: development secret stored in {path}"


BACKGROUND_NICENESS = 0


def check_port(host: str, port: int) -> int:
    """Raise WabotError (one line) unless HOST:PORT can be listened on now: checked before anything
    is started or written, so a busy port changes nothing. Port 0 is a free port, chosen here;
    returns the port to serve on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise WabotError(f"cannot listen on {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
    with socket.socket(family, kind, proto) as probe:
        # As gunicorn binds: a port left in TIME_WAIT is free, one another process listens on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise WabotError(f"port {port} is in use on {host}: stop what listens there, or choose "
                                 "another with --port") from None
            if exc.errno == errno.EACCES:
                raise WabotError(f"port {port} needs privileges this user does not have: choose one above 1023 "
                                 "with --port") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise WabotError(f"cannot listen on {host}: not an address of this machine") from None
            raise WabotError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        return probe.getsockname()[1]


def default_workers() -> int:
    return os.cpu_count() or 1


def run_server(ctx: Context, host: str, port: int, threads: int = 8, workers: int | None = None,
               notes: tuple[str, ...] = (), sandbox_statuses: StatusPlan | None = None) -> None:
    """Serve until stopped. The configuration and the port are checked and the schema upgraded
    here, before any child starts; each child then builds its Runtime from the same checked
    features. `sandbox_statuses`: with the sandbox transport, simulate delivered and read
    statuses for what is sent (bot/pipeline/sandbox.py)."""
    from bot.web.server import WabotServer
    from webhook import create_app

    workers = workers or default_workers()
    ctx.features()  # a bad configuration first: one line naming the key (its warnings once the port is free)
    port = check_port(host, port)
    runtime = ctx.runtime(warn=True)
    runtime.engine.dispose()  # no pooled connection crosses a fork
    features = runtime.features
    settings, secret_line = app_secret_notice(runtime.settings)
    statuses = sandbox_statuses if settings.sandbox else None
    simulated = "; delivered and read statuses simulated" if statuses else ""
    transport = f"sandbox transport (messages are recorded, not sent{simulated})" if settings.sandbox else \
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
        run_background(settings, features, statuses)

    try:
        status = Supervisor([Child("http", http, restart=False), Child("background", background, restart=True)]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    if status:
        raise SystemExit(status)


def run_background(settings: Settings, features: Features, sandbox_statuses: StatusPlan | None = None) -> None:
    """The inbound worker, the sender and the scheduler (standing by unless it holds the lock),
    and the simulated statuses when asked for, until SIGTERM or SIGINT."""
    runtime = Runtime.from_settings(settings, features=features)
    simulator = StatusSimulator(runtime.engine, sandbox_statuses, on_stored=runtime.inbound_wake.set) \
        if sandbox_statuses is not None and settings.sandbox else None

    def start() -> None:
        runtime.start_background(scheduler=True)
        if simulator is not None:
            simulator.start()

    def stop() -> None:
        if simulator is not None:
            simulator.stop()
        runtime.close()

    run_until_signalled(start, stop, None)
