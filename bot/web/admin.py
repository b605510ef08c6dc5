"""The store owner's console (`GET /admin`, docs/console.md) and its customer API.

The page is a shell and a small script; everything it shows comes from the admin JSON API
(Bearer WABOT_ADMIN_TOKEN): segments (bot/web/segments.py), campaigns and reorder prompts
(bot/web/campaigns.py), and the customer search and explanation and the store automations'
results (/api/automations) here. Charts are drawn by
plotly.js, served from the installed `plotly` package (never a CDN, never a copy in this
repository), gzipped once per process and cached by browsers for a year under a versioned URL.

Our pages allow only stylesheets from this server (bot/web/security.py), so plotly.js may not
inject its own <style> element: its rules are read out of the bundle once and served as
/admin/static/plotly.css, and the page links them with the id and class that tell plotly.js the
rules are there already (plotly.js's `no-inline-styles` switch).
"""
from __future__ import annotations

import gzip
import importlib.metadata
import importlib.util
import json
import logging
import re
import threading
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from bot.automations.stats import configured_stats
from bot.campaigns.pricing import RateCard
from bot.conversation import customers, directory, inbox
from bot.core import db
from bot.core.errors import NotFound, WabotError
from bot.core.times import utcnow
from bot.web.segments import admin_authorised

log = logging.getLogger(__name__)

admin_console = Blueprint("admin_console", __name__, template_folder="templates", static_folder="static",
                          static_url_path="/admin/static")
admin_api = Blueprint("admin_api", __name__, url_prefix="/api")

YEAR = 365 * 24 * 3600
SEARCH_LIMIT = 20


# ---------------------------------------------------------------- plotly.js, from its package

# plotly.js builds its stylesheet from one object literal of selector -> declarations, "X" standing
# for a chart's root and "Y" for its notifier; the loop after it names both.
PLOTCSS = re.compile(r"""=(\{"X,X div":.*?\});for\(""", re.S)
JS_STRING = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
PLOTCSS_PAIR = re.compile(rf"({JS_STRING})\s*:\s*({JS_STRING})")
CSS_TEXT = re.compile(r"^[^{}@]*$")  # a selector or declarations: nothing that could open another rule
# Stylesheets a bundled library (maplibre's, for map charts) injects unless an element has its id.
GUARDED_SHEET = re.compile(rf"""getElementById\("([0-9a-f]{{16,64}})"\)\)\{{var (\w+)=document\.createElement\("style"\);"""
                           rf"""\2\.id="\1",\2\.textContent=({JS_STRING})""")


def _js_string(literal: str) -> str:
    """A JavaScript string literal's text (the escapes JSON shares; ValueError for others)."""
    body = literal[1:-1]
    if literal[0] == "'":  # as a double-quoted one: \' is ', a bare " is escaped
        body = re.sub(r'\\(.)|"', lambda m: "'" if m.group(1) == "'" else '\\"' if m.group(1) in (None, '"')
                      else m.group(0), body, flags=re.S)
    return json.loads(f'"{body}"')


def plotly_css(bundle: str) -> str:
    """The stylesheet plotly.js would inject, read from the bundle's text; ValueError where the
    bundle does not hold it in the shape this reads."""
    found = PLOTCSS.search(bundle)
    if found is None:
        raise ValueError("plotly.js's stylesheet rules were not found in plotly.min.js")
    rules = []
    for selector, declarations in PLOTCSS_PAIR.findall(found.group(1)):
        selector, declarations = _js_string(selector), _js_string(declarations)
        if not (CSS_TEXT.match(selector) and CSS_TEXT.match(declarations)):
            raise ValueError(f"unexpected text in plotly.js's stylesheet rule {selector[:40]!r}")
        full = re.sub(r"^,", " ,", selector).replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        rules.append(f"{full}{{{declarations}}}")
    if not any(".main-svg" in rule for rule in rules):
        raise ValueError("plotly.js's stylesheet rules look incomplete (no .main-svg rule)")
    # plotly.js inserts each rule at the top of its sheet: the same order here, for the same cascade.
    return ("/* plotly.js's own rules, read from the installed bundle by bot/web/admin.py */\n"
            + "\n".join(reversed(rules)) + "\n")


def guarded_sheets(bundle: str) -> dict[str, str]:
    """{element id: CSS} of the stylesheets the bundle injects only where no element has that id."""
    return {sheet_id: _js_string(literal) for sheet_id, _, literal in GUARDED_SHEET.findall(bundle)}


class PlotlyBundle:
    """plotly.min.js as the installed plotly package ships it, and its stylesheets, each read once
    and kept (with its gzipped form) for the life of the process; None where plotly is not installed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._js: bytes | None = None
        self._css: bytes | None = None
        self._sheets: dict[str, bytes] | None = None
        self._gzipped: dict[str, bytes] = {}

    @staticmethod
    def path() -> Path | None:
        spec = importlib.util.find_spec("plotly")  # found without importing the Python library
        for folder in (spec.submodule_search_locations or []) if spec else []:
            candidate = Path(folder) / "package_data" / "plotly.min.js"
            if candidate.is_file():
                return candidate
        return None

    @staticmethod
    def version() -> str:
        try:
            return importlib.metadata.version("plotly")
        except importlib.metadata.PackageNotFoundError:
            return "missing"

    def js(self) -> bytes | None:
        with self._lock:
            if self._js is None:
                path = self.path()
                if path is None:
                    return None
                self._js = path.read_bytes()
            return self._js

    def css(self) -> bytes | None:
        bundle = self.js()
        if bundle is None:
            return None
        with self._lock:
            if self._css is None:
                try:
                    self._css = plotly_css(bundle.decode("utf-8")).encode()
                except ValueError as exc:  # charts still draw, with plotly.js's layers unstyled
                    log.warning("plotly %s: %s", self.version(), exc)
                    self._css = f"/* {exc} */\n".encode()
            return self._css

    def sheets(self) -> dict[str, bytes]:
        """The bundle's other stylesheets by the id that keeps it from injecting them."""
        bundle = self.js()
        with self._lock:
            if self._sheets is None:
                self._sheets = {} if bundle is None else {
                    k: v.encode() for k, v in guarded_sheets(bundle.decode("utf-8")).items()}
            return self._sheets

    def gzipped(self, key: str, body: bytes) -> bytes:
        with self._lock:
            if key not in self._gzipped:
                self._gzipped[key] = gzip.compress(body, 6, mtime=0)
            return self._gzipped[key]


PLOTLY = PlotlyBundle()


def _asset(body: bytes, mimetype: str, key: str) -> Response:
    """A versioned asset: gzipped when the browser takes it, cached for a year, revalidated by ETag."""
    gzipped = "gzip" in (request.headers.get("Accept-Encoding") or "").lower()
    response = Response(PLOTLY.gzipped(key, body) if gzipped else body, mimetype=mimetype)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response.set_etag(f"{key}-{PLOTLY.version()}{'-gz' if gzipped else ''}")
    return response.make_conditional(request)


@admin_console.get("/admin/static/plotly.min.js")
def plotly_js():
    body = PLOTLY.js()
    if body is None:
        return Response("console.error('plotly is not installed: pip install plotly');", status=503,
                        mimetype="text/javascript")
    return _asset(body, "text/javascript", "plotly-js")


@admin_console.get("/admin/static/plotly.css")
def plotly_stylesheet():
    """plotly.js's rules; with `sheet`, one of the stylesheets its bundled libraries inject."""
    if PLOTLY.path() is None:
        return Response("/* plotly is not installed: pip install plotly */", status=503, mimetype="text/css")
    sheet = request.args.get("sheet")
    css = PLOTLY.css() if sheet is None else PLOTLY.sheets().get(sheet)
    if css is None:
        return Response("/* no such stylesheet */", status=404, mimetype="text/css")
    return _asset(css, "text/css", f"plotly-css-{sheet or 'main'}")


# ---------------------------------------------------------------- the page

@admin_console.get("/admin")
def console():
    settings = current_app.extensions["wabot"].settings
    return render_template("admin.html", store_name=settings.store.name, currency=settings.store.currency,
                           plotly_url=url_for("admin_console.plotly_js", v=PLOTLY.version()),
                           plotly_css_url=url_for("admin_console.plotly_stylesheet", v=PLOTLY.version()),
                           plotly_sheets=[(sheet_id, url_for("admin_console.plotly_stylesheet", v=PLOTLY.version(),
                                                             sheet=sheet_id)) for sheet_id in PLOTLY.sheets()])


# ---------------------------------------------------------------- customers

@admin_api.before_request
def _require_admin():
    if not admin_authorised():
        return jsonify(error="admin token required (Authorization: Bearer WABOT_ADMIN_TOKEN)"), 401
    return None


@admin_api.get("/customers")
def search_customers():
    """Customers whose number, name or email contains `q`."""
    query = (request.args.get("q") or "").strip()
    if not directory.MIN_QUERY <= len(query) <= directory.MAX_QUERY:
        raise WabotError(f"q: give {directory.MIN_QUERY} to {directory.MAX_QUERY} characters of a number, "
                         "name or email")
    rt = current_app.extensions["wabot"]
    with db.reading(rt.engine) as conn:
        found = directory.search(conn, query, limit=SEARCH_LIMIT)
    return jsonify({"query": query, "customers": found})


@admin_api.get("/customers/<key>")
def show_customer(key: str):
    """One customer: the agent console's view of them (transcript, orders, language) and why they
    are in each segment at this moment, with every attribute the rules read."""
    rt = current_app.extensions["wabot"]
    now = utcnow()
    with db.reading(rt.engine) as conn:
        customer = customers.find(conn, key)
        if customer is None:
            raise NotFound(f"no customer {key}")
        seen = inbox.conversation(conn, customer, now, rt.settings.store.currency, rt.settings.store.languages)
        explained = rt.segment_engine.explain(conn, customer.id, now)
        attributes = rt.segment_engine.attributes(conn, customer.id, now)
    return jsonify({"key": key, "customer": seen, "explain": explained, "attributes": attributes,
                    "now": now.isoformat()})


# ---------------------------------------------------------------- store automations

@admin_api.get("/automations")
def automation_results():
    """Each configured automation's results per step, as `wabot automations stats --json`."""
    rt = current_app.extensions["wabot"]
    with db.reading(rt.engine) as conn:
        data = configured_stats(conn, rt.settings.file.automations, rt.settings.store.currency,
                                RateCard.from_config(rt.settings.file.rates))
    return jsonify(data)
