"""The store owner's console page and the charting library it loads: plotly.js comes from the
installed plotly package (never a CDN, never a copy in the repository), with its stylesheet read
out of the bundle so that the page's strict CSP (no inline styles) holds; cached for a year."""
from __future__ import annotations

import gzip
import re
import tomllib

import pytest

from bot.web import admin
from bot.web.security import HEADERS
from tests.conftest import ROOT
from webhook import create_app

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for(WABOT_ADMIN_TOKEN="adm"))
    yield app
    app.extensions["wabot"].close()


def test_the_page_signs_in_with_a_token_and_loads_only_this_servers_files(app):
    page = app.test_client().get("/admin")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<label for="token">Token</label>' in html
    csp = page.headers["Content-Security-Policy"]
    assert csp == HEADERS["Content-Security-Policy"] and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/admin/static/") or s == "data:," for s in sources), sources
    version = admin.PLOTLY.version()
    assert f"/admin/static/plotly.min.js?v={version}" in html
    assert re.search(r'<link rel="stylesheet" href="/admin/static/plotly.css\?v=[^"]+" id="plotly.js-style-global" '
                     r'class="no-inline-styles">', html)
    for name in ("console.css", "admin.css", "console.js", "admin.js"):
        with app.test_client().get(f"/admin/static/{name}") as asset:
            assert asset.status_code == 200 and asset.data, name


def test_plotly_js_is_the_installed_packages_gzipped_and_cached_for_a_year(app):
    shipped = admin.PLOTLY.path()
    assert shipped is not None and shipped.name == "plotly.min.js" and shipped.parent.parent.name == "plotly"
    assert not shipped.is_relative_to(ROOT)  # the package's file, not one of ours
    client = app.test_client()
    plain = client.get("/admin/static/plotly.min.js?v=1")
    assert plain.status_code == 200 and plain.mimetype == "text/javascript"
    assert plain.data == shipped.read_bytes()
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    zipped = client.get("/admin/static/plotly.min.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 2
    again = client.get("/admin/static/plotly.min.js", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_plotly_css_holds_the_rules_plotly_would_inject(app):
    client = app.test_client()
    css = client.get("/admin/static/plotly.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert ".js-plotly-plot .plotly .main-svg{position:absolute;" in text
    assert "/*" in text.splitlines()[0] and "{" not in text.splitlines()[0]
    for sheet_id in admin.PLOTLY.sheets():
        extra = client.get(f"/admin/static/plotly.css?sheet={sheet_id}")
        assert extra.status_code == 200 and extra.data
    assert client.get("/admin/static/plotly.css?sheet=nope").status_code == 404


def test_the_rules_are_read_from_the_bundles_text():
    bundle = ('var a=1,I0e={"X,X div":\'direction:ltr;font-family:"Open Sans",arial;\',"X .main-svg":'
              '"position:absolute;top:0;","X .modebar--hover>:not(.watermark)":"opacity:0;","Y p":"margin:0;"};'
              'for(bV in I0e)R0e=bV.replace(/X/g,".js-plotly-plot .plotly");')
    css = admin.plotly_css(bundle)
    assert '.js-plotly-plot .plotly,.js-plotly-plot .plotly div{direction:ltr;font-family:"Open Sans",arial;}' in css
    assert ".plotly-notifier p{margin:0;}" in css
    lines = css.splitlines()[1:]
    assert lines[0].startswith(".plotly-notifier")  # inserted at the top one after another, as plotly.js does
    with pytest.raises(ValueError, match="not found"):
        admin.plotly_css("var nothing=1;")
    with pytest.raises(ValueError, match="unexpected text"):
        admin.plotly_css('={"X,X div":"a:b;}body{display:none","X .main-svg":"p:a;"};for(')
    sheets = admin.guarded_sheets('if(!document.getElementById("abcdef0123456789")){var e=document.createElement('
                                  '"style");e.id="abcdef0123456789",e.textContent=\'.m{font:12px/20px a}\',x()}')
    assert sheets == {"abcdef0123456789": ".m{font:12px/20px a}"}


def test_no_chart_library_is_copied_into_the_repository():
    copies = [p for p in (ROOT / "bot").rglob("*.js") if "plotly" in p.name.lower() or p.stat().st_size > 200_000]
    assert copies == []
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.split(">")[0].split("<")[0].split("=")[0].strip() == "plotly" for d in dependencies)
