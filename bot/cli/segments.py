"""`wabot orders|customers|products import` and `wabot segments refresh|list|members|explain`."""
from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click
import sqlalchemy as sa

from bot.automations import cod
from bot.cli.context import current
from bot.conversation import customers as customer_store
from bot.conversation.inbox import cod_json
from bot.core import db, languages
from bot.core.errors import NotFound, WabotError
from bot.core.tables import customers
from bot.core.times import utcnow
from bot.runtime import Runtime
from segments.importer import ImportReport, file_size, import_file
from segments.timeparse import NOW


def _runtime() -> Runtime:
    return current().runtime()


# -- imports ------------------------------------------------------------------------------------

def _run_import(kind: str, path: Path) -> None:
    runtime = _runtime()
    settings, engine = runtime.settings, runtime.engine
    size = file_size(path)
    bar = None
    if sys.stdout.isatty() and size:
        bar = click.progressbar(length=size, label=f"Importing {kind}", file=sys.stdout, show_pos=False)
        bar.__enter__()
    position = [0]

    def progress(pos: int) -> None:
        if bar is not None and pos > position[0]:
            bar.update(pos - position[0])
            position[0] = pos

    def bad_row(where: str, reason: str) -> None:
        click.echo(f"{path}: {where}: {reason}", err=True)

    try:
        report = import_file(engine, kind, path, region=settings.store.default_region, on_bad=bad_row,
                             progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(_summary(report, path))
    if report.bad:
        raise WabotError(f"{report.bad} bad record{'s' if report.bad != 1 else ''} in {path} (listed above);"
                         f" the other {report.imported} were imported")


def _summary(report: ImportReport, path: Path) -> str:
    notes = []
    if report.stale:
        notes.append(f"{report.stale} older than the stored copy, ignored")
    if report.customers_created:
        notes.append(f"{report.customers_created} new customer{'s' if report.customers_created != 1 else ''}")
    if report.without_customer:
        what = "orders" if report.kind == "orders" else "customers"
        notes.append(f"{report.without_customer} {what} without a usable phone number"
                     + (" (kept, joined to no WhatsApp customer)" if report.kind == "orders" else " (skipped)"))
    if report.bad:
        notes.append(f"{report.bad} bad")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return (f"imported {report.imported} {report.kind} from {path}{extra} in {report.seconds:.1f} s"
            f" ({report.rate:,.0f} records/s)")


@click.group("orders")
def orders_group() -> None:
    """Shopify orders."""


@orders_group.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def orders_import(path: Path) -> None:
    """Import orders: JSON lines or a JSON array of Shopify order objects, or the admin's order
    export CSV (a row per line item). Idempotent by order id."""
    _run_import("orders", path)


@click.group("customers")
def customers_group() -> None:
    """Shopify customers."""


@customers_group.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def customers_import(path: Path) -> None:
    """Import customers: Shopify customer objects (JSON lines) or the admin's customer export CSV.
    Names, phones, tags and marketing consent; any other column becomes a custom attribute (attr())."""
    _run_import("customers", path)


@click.group("products")
def products_group() -> None:
    """The product catalogue."""


@products_group.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
def products_import(path: Path) -> None:
    """Import products: Shopify product objects (JSON lines) or the admin's product export CSV
    (type, vendor, tags, variants, SKUs)."""
    _run_import("products", path)


# -- segments -----------------------------------------------------------------------------------

@click.group("segments")
def segments_group() -> None:
    """Customer segments: refresh, list, members, explain."""


@segments_group.command("refresh")
@click.option("--now", type=NOW, default=None, help="Compute at this time (ISO 8601; default: now).")
@click.option("--changed", is_flag=True, help="Only the customers whose data changed since the last refresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def segments_refresh(now: datetime | None, changed: bool, as_json: bool) -> None:
    """Recompute every segment at a time and record who entered and who left."""
    runtime = _runtime()
    engine, segments = runtime.engine, runtime.segment_engine
    at = now or utcnow()
    with engine.begin() as conn:
        result = segments.refresh_changed(conn, at) if changed else segments.refresh(conn, at)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"{result.kind} refresh at {at.isoformat()}: {result.customers} customers,"
               f" {result.changed} changed, {result.seconds:.2f} s")
    width = max(len(n) for n in result.counts)
    for name, count in result.counts.items():
        moves = []
        if result.entered.get(name):
            moves.append(f"+{result.entered[name]}")
        if result.exited.get(name):
            moves.append(f"-{result.exited[name]}")
        click.echo(f"  {name:<{width}}  {count:>8}" + (f"  ({' '.join(moves)})" if moves else ""))


@segments_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print [{name, description, count}] as JSON.")
def segments_list(as_json: bool) -> None:
    """Every segment with its description and member count (as of the last refresh)."""
    from segments.views import segment_list

    runtime = _runtime()
    engine, segments = runtime.engine, runtime.segment_engine
    with db.reading(engine) as conn:
        rows = segment_list(segments, conn, utcnow())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['count']:>8}  {row['description']}")


@segments_group.command("members")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help='{"segment", "members": [{wa_id, customer_id, name}]}.')
@click.option("--csv", "as_csv", is_flag=True, help="CSV with phone, email and names, for other channels.")
@click.option("--now", type=NOW, default=None, help="Members at this time (ISO 8601; default: now).")
def segments_members(name: str, as_json: bool, as_csv: bool, now: datetime | None) -> None:
    """The customers in a segment, computed at a time."""
    from segments.views import member_rows, members_csv, members_json

    if as_json and as_csv:
        raise WabotError("choose one of --json and --csv")
    runtime = _runtime()
    engine, segments = runtime.engine, runtime.segment_engine
    segments.definition(name)
    at = now or utcnow()
    out = click.get_text_stream("stdout")
    with db.reading(engine) as conn:
        if as_json:
            for piece in members_json(segments, conn, at, name):
                out.write(piece)
            out.write("\n")
        elif as_csv:
            for piece in members_csv(segments, conn, at, name):
                out.write(piece)
        else:
            count = 0
            for row in member_rows(segments, conn, at, name):
                count += 1
                out.write(f"{row.wa_id or '-'}\t{row.shopify_customer_id or '-'}\t{row.name or ''}\n")
            click.echo(f"{count} member{'s' if count != 1 else ''} of {name} at {at.isoformat()}", err=True)


@segments_group.command("explain")
@click.argument("wa_id")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.option("--now", type=NOW, default=None, help="Explain at this time (ISO 8601; default: now).")
def segments_explain(wa_id: str, as_json: bool, now: datetime | None) -> None:
    """Each segment the customer is in, with the attribute values that put them there."""
    runtime = _runtime()
    engine, segments = runtime.engine, runtime.segment_engine
    at = now or utcnow()
    with db.reading(engine) as conn:
        customer = customer_store.find(conn, wa_id.lstrip("+"))
        if customer is None:
            raise NotFound(f"no customer with WhatsApp id {wa_id}")
        explained = segments.explain(conn, customer.id, at)
        attributes = segments.attributes(conn, customer.id, at)
        shopify_id = conn.execute(sa.select(customers.c.shopify_customer_id)
                                  .where(customers.c.id == customer.id)).scalar()
        answers = cod.of_customer(conn, customer.id)
    payload = {"wa_id": customer.wa_id, "user_id": customer.user_id, "customer_id": shopify_id, "name": customer.name,
               "now": at.isoformat().replace("+00:00", "Z"), "segments": explained, "attributes": attributes,
               "cash_on_delivery": [{"order_id": a.order_id, "order_name": a.order_name, **cod_json(a)}
                                    for a in answers]}
    if as_json:
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    # A username customer's key is their business-scoped user id, not a number (docs/usernames.md).
    who = customer.wa_id if customer.wa_id and customer.wa_id.isdigit() else f"username {customer.wa_id}"
    click.echo(f"{who} ({customer.name or 'no name'}) at {payload['now']}")
    click.echo(f"  language: {attributes['language']} ({languages.SOURCE_WORDS[attributes['language_source']]})")
    if not explained:
        click.echo("  in no segment")
    for item in explained:
        click.echo(f"  {item['segment']}: {item['description']}")
        values = ", ".join(f"{k} = {v}" for k, v in item["reason"].items() if k != "rule")
        if "rule" in item["reason"]:
            click.echo(f"      rule: {item['reason']['rule']}")
        if values:
            click.echo(f"      {values}")
    for answer in answers:  # the answers to the cash-on-delivery question (docs/automations.md)
        name = answer.order_name or f"#{answer.order_id}"
        if answer.state == "awaiting":
            click.echo(f"  cash on delivery {name}: asked {_iso(answer.asked_at)}, no answer yet")
        else:
            tag = f", tag {answer.tag} ({TAG_STATES.get(answer.tag_state or '', answer.tag_state)})" if answer.tag else ""
            click.echo(f"  cash on delivery {name}: {answer.state} {_iso(answer.answered_at)}{tag}")


TAG_STATES = {"pending": "being added in Shopify", "done": "added in Shopify", "failed": "Shopify refused it"}


def _iso(at: datetime | None) -> str:
    return at.isoformat().replace("+00:00", "Z") if at else "-"


COMMANDS = (orders_group, customers_group, products_group, segments_group)
