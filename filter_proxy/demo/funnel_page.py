"""The demo's ``/-/funnel`` page and ``/metrics``: the deterrence funnel of this demo, from the same report
store (SQLite) and the same summary as ``filter-proxy report``, so a new user sees the whole loop:
search ``zqxblocked`` -> warning (one of two wordings) -> follow a help link -> see it counted here."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from filter_proxy.funnel.summary import funnel_summary
from filter_proxy.metrics import Metrics
from filter_proxy.report import ReportCounter, read_funnel_rows

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ENV.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Deterrence funnel</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:right}
td:nth-child(-n+3),th{text-align:left}</style></head>
<body><main>
<h1>Deterrence funnel</h1>
<p>Warnings shown, help links followed and (opt-in) repeat searches, per warning kind, language and variant:
counts only, from this demo's report store ({{ database }}). The same table is in
<code>filter-proxy report --db {{ database }}</code>; the counters are also at <a href="/metrics">/metrics</a>.</p>
<table id="funnel"><thead><tr><th>kind</th><th>lang</th><th>variant</th><th>shown</th><th>help clicks</th>
<th>click rate</th><th>95% CI (Wilson)</th></tr></thead><tbody>
{% for g in funnel.groups %}<tr data-kind="{{ g.kind }}" data-lang="{{ g.lang }}" data-variant="{{ g.variant }}">
<td>{{ g.kind }}</td><td>{{ g.lang }}</td><td>{{ g.variant }}</td><td class="shown">{{ g.shown }}</td>
<td class="clicks">{{ g.clicks }}</td><td>{{ pct(g.click_rate.rate) }}</td><td>{{ ci(g.click_rate.ci95) }}</td></tr>
{% else %}<tr><td colspan="7">Nothing counted yet: search for <a href="/?q=zqxblocked">zqxblocked</a>.</td></tr>{% endfor %}
</tbody></table>
{% if funnel.comparisons %}<h2>Variants compared</h2>
<table><thead><tr><th>kind</th><th>lang</th><th>measure</th><th>a - b</th><th>difference</th>
<th>95% CI (Newcombe)</th><th>p (two-proportion z)</th></tr></thead><tbody>
{% for c in funnel.comparisons %}<tr><td>{{ c.kind }}</td><td>{{ c.lang or "all" }}</td><td>{{ c.measure }}</td>
<td>{{ c.a }} - {{ c.b }}</td><td>{{ pct(c.difference) }}</td><td>{{ ci(c.ci95) }}</td><td>{{ "%.3g"|format(c.p_value) }}</td></tr>
{% endfor %}</tbody></table>{% endif %}
<p><a href="/">Back to search</a></p>
</main></body></html>
""")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ci(pair: Any) -> str:
    return f"{100 * pair[0]:.1f}% to {100 * pair[1]:.1f}%"


class FunnelPages:
    """``GET /-/funnel`` (HTML) and ``GET /metrics`` (Prometheus) of the demo."""

    def __init__(self, report: ReportCounter, metrics: Metrics) -> None:
        self.report = report
        self.metrics = metrics

    async def funnel(self, request: Request) -> Response:
        await asyncio.to_thread(self.report.flush)  # what was counted so far, into the store, then read back
        rows = await asyncio.to_thread(read_funnel_rows, self.report.database, datetime(2000, 1, 1, tzinfo=UTC))
        html = _PAGE.render(funnel=funnel_summary(rows), database=str(self.report.database), pct=_pct, ci=_ci)
        return HTMLResponse(html, headers={"cache-control": "no-store",
                                           "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'"})

    async def exposition(self, request: Request) -> Response:
        body, content_type = self.metrics.exposition()
        return Response(body, media_type=content_type)
