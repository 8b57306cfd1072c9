"""Every output of the funnel carries no user data (issue 15): whatever a person sends with a blocked
search and a help-link click (the query, cookies, addresses, referrer, user agent, query strings), none of
it reaches the report store, /metrics, the report, the follow-up cookie or the help links."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.demo.app import create_filtered_backend
from filter_proxy.events import MultiObserver
from filter_proxy.funnel.cookie import RepeatCookie
from filter_proxy.funnel.route import HelpRoute
from filter_proxy.funnel.summary import funnel_markdown, funnel_summary
from filter_proxy.funnel.token import HelpSigner
from filter_proxy.metrics import Metrics
from filter_proxy.report import ReportCounter, read_funnel_rows, read_rows
from filter_proxy.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent
RULES = load_rules(ROOT / "rules")
SECRET = b"privacy-test-secret-0123456789"
# A marker a person could send: in the query, the cookie, the headers. Letters only, so that finding it
# in an output means it was copied there.
markers = st.from_regex(r"\Amk[a-z]{10}\Z")


async def _journey(marker: str, tmp: Path) -> dict[str, Any]:
    report, metrics = ReportCounter(tmp / "report.sqlite3"), Metrics()
    observer = MultiObserver(metrics, report)
    signer = HelpSigner(SECRET)
    api = create_filtered_backend(RULES, thumbnails="precomputed", observer=observer, help_signer=signer)
    api.repeat_cookie = RepeatCookie(SECRET)
    app = HelpRoute(signer, lambda: RULES.warnings, observer, api)
    personal = {"user-agent": f"Browser/{marker}", "referer": f"https://{marker}.example.invalid/",
                "x-forwarded-for": "192.0.2.77", "x-real-ip": "192.0.2.77", "accept-language": "en"}
    seen: list[bytes] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("192.0.2.77", 4242)),
                                 base_url="http://127.0.0.1") as client:
        cookie = f"session={marker}"
        for n in range(3):  # a blocked search, then two more carrying the follow-up cookie
            for accept in ("text/html", "application/json"):
                response = await client.get("/search", params={"q": f"zqxblocked {marker}", "format": "json"},
                                            headers={**personal, "accept": accept, "cookie": cookie})
                assert response.status_code == 200 and response.headers["x-filter-action"] == "block"
                seen.append(response.content)
                set_cookie = response.headers.get("set-cookie", "")
                seen.append(set_cookie.encode())
                assert set_cookie.startswith("fp_followup=")
                cookie = f"session={marker}; {set_cookie.split(';')[0]}"
            for path in sorted(set(re.findall(r'(/-/help/[A-Za-z0-9_.=-]+)', response.content.decode()))):
                click = await client.get(f"{path}?from={marker}", headers={**personal, "cookie": cookie})
                assert click.status_code in (200, 303), n
                seen.append(click.content + orjson.dumps(dict(click.headers)))
    report.flush()
    since = __import__("datetime").datetime(2000, 1, 1, tzinfo=__import__("datetime").UTC)
    funnel = funnel_summary(read_funnel_rows(report.database, since))
    return {"outputs": seen, "metrics": metrics.exposition()[0], "funnel": funnel,
            "report": orjson.dumps(funnel) + funnel_markdown(funnel).encode() + repr(read_rows(report.database, since)).encode(),
            "store": b"".join(p.read_bytes() for p in tmp.glob("report.sqlite3*"))}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(marker=markers)
def test_no_output_of_the_funnel_carries_user_data(marker: str, tmp_path_factory: Any) -> None:
    tmp = tmp_path_factory.mktemp("privacy")
    result = asyncio.run(_journey(marker, tmp))
    needle, address = marker.encode(), b"192.0.2.77"
    for name in ("metrics", "report", "store"):
        assert needle not in result[name] and address not in result[name], name
        assert b"zqxblocked" not in result[name], name
    for output in result["outputs"]:
        assert needle not in output and address not in output
    # And the funnel did count: shown, clicks, repeats (the journey is not vacuous).
    groups = result["funnel"]["groups"]
    assert sum(g["shown"] for g in groups) == 6 and sum(g["clicks"] for g in groups) > 0
    assert sum(g["repeats"] for g in result["funnel"]["repeats"]) == 5  # every search after the first
