"""The deterrence funnel (issue 15): signed help links, variants by weight, the follow-up cookie, the
report's rates and intervals, and that no count carries user data."""

from __future__ import annotations

import base64
import math
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.funnel.cookie import BUCKET_SECONDS, COOKIE, RepeatCookie
from filter_proxy.funnel.route import HelpRoute
from filter_proxy.funnel.stats import newcombe, two_proportion_z, wilson
from filter_proxy.funnel.summary import funnel_markdown, funnel_summary
from filter_proxy.funnel.token import HelpLink, HelpSigner
from filter_proxy.report import ReportCounter, connect, read_funnel_rows
from filter_proxy.rules import RuleSet, load_rules
from filter_proxy.warnings import WarningCatalog, load_warnings

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"funnel-test-secret-0123456789"
names = st.from_regex(r"\A[a-z][a-z0-9_-]{0,20}\Z")
langs = st.from_regex(r"\A[a-z]{2,3}(-[a-z0-9]{2,8})?\Z")
links = st.builds(HelpLink, names, langs, names, st.integers(0, 999))


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(ROOT / "rules")


@pytest.fixture(scope="module")
def catalog(rules: RuleSet) -> WarningCatalog:
    return rules.warnings


def all_targets(catalog: WarningCatalog) -> set[str]:
    out: set[str] = set()
    for kinds in catalog.texts.values():
        for text in kinds.values():
            out |= {link.url for link in text.links}
            out |= {h.url for h in text.helplines if h.url} | {h.tel for h in text.helplines if h.tel}
    return out


# --- tokens ---------------------------------------------------------------------------------------------

@given(links)
def test_token_round_trips(link: HelpLink) -> None:
    assert HelpSigner(SECRET).verify(HelpSigner(SECRET).token(link)) == link


@given(links, st.data())
def test_tampered_token_never_names_another_link(link: HelpLink, data: st.DataObject) -> None:
    signer = HelpSigner(SECRET)
    token = signer.token(link)
    pos = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."))
    tampered = token[:pos] + char + token[pos + 1:]
    # base64's unused low bits may let a changed last character decode to the same bytes: then it is the
    # same link. Anything else fails the MAC.
    assert signer.verify(tampered) in (None, link)


@given(links, names, langs, names, st.integers(0, 999))
def test_forged_payload_with_reused_mac_is_refused(link: HelpLink, kind: str, lang: str, variant: str,
                                                   index: int) -> None:
    signer = HelpSigner(SECRET)
    mac = signer.token(link).split(".")[1]
    other = HelpLink(kind, lang, variant, index)
    payload = base64.urlsafe_b64encode(f"{kind}|{lang}|{variant}|{index}".encode()).rstrip(b"=").decode()
    assert signer.verify(f"{payload}.{mac}") == (link if other == link else None)
    assert HelpSigner(b"another-secret-abcdefghijkl").verify(signer.token(link)) is None


@given(st.text(max_size=300))
def test_arbitrary_text_is_not_a_token(text: str) -> None:
    assert HelpSigner(SECRET).verify(text) is None


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_valid_token_only_leads_into_the_catalogue(catalog: WarningCatalog, data: st.DataObject) -> None:
    kinds = sorted({k for texts in catalog.texts.values() for k in texts} | {"other-kind"})
    link = HelpLink(data.draw(st.sampled_from(kinds)), data.draw(st.sampled_from([*catalog.languages, "xx"])),
                    data.draw(st.sampled_from(["consequences", "help-first", "default", "zzz"])),
                    data.draw(st.integers(0, 40)))
    route = HelpRoute(HelpSigner(SECRET), lambda: catalog, _Clicks())
    found = route.resolve(HelpSigner(SECRET).token(link))
    if found is not None:
        assert found[1] in all_targets(catalog)
        text = catalog.texts[link.lang][link.kind]
        assert found[1] == text.target(link.index)


class _Clicks:
    def __init__(self) -> None:
        self.clicks: list[tuple[str, str, str, int]] = []

    def help_click(self, kind: str, lang: str, variant: str, link: int) -> None:
        self.clicks.append((kind, lang, variant, link))


@pytest.mark.anyio
async def test_help_route_redirects_counts_and_refuses(catalog: WarningCatalog) -> None:
    clicks = _Clicks()
    signer = HelpSigner(SECRET)
    app = HelpRoute(signer, lambda: catalog, clicks)  # type: ignore[arg-type]
    text = catalog.texts["en"]["deterrence"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c:
        first = await c.get(signer.path(HelpLink("deterrence", "en", "help-first", 0)))
        assert first.status_code == 303 and first.headers["location"] == text.links[0].url
        assert first.headers["referrer-policy"] == "no-referrer" and first.headers["cache-control"] == "no-store"
        tel_index = len(text.links) + 1  # the first helpline's phone
        call = await c.get(signer.path(HelpLink("deterrence", "en", "consequences", tel_index)))
        assert call.status_code == 200 and f'href="{text.helplines[0].tel}"' in call.text
        assert "<script" not in call.text
        for bad in (signer.path(HelpLink("deterrence", "en", "no-such-variant", 0)),
                    signer.path(HelpLink("deterrence", "en", "help-first", 999)),
                    "/-/help/" + signer.token(HelpLink("deterrence", "en", "help-first", 0))[:-3] + "xyz"):
            assert (await c.get(bad)).status_code == 404
        assert (await c.head(signer.path(HelpLink("deterrence", "en", "help-first", 0)))).status_code == 404
    assert clicks.clicks == [("deterrence", "en", "help-first", 0), ("deterrence", "en", "consequences", tel_index)]


# --- variants -------------------------------------------------------------------------------------------

def test_variants_are_chosen_with_the_configured_weights(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text(
        '[deterrence]\nvariant = "a"\nweight = 3\ntitle = "T"\nbody = "B"\n'
        '[[deterrence.variants]]\nname = "b"\nweight = 1\ntitle = "T2"\nbody = "B2"\n', encoding="utf-8")
    catalog, problems = load_warnings(tmp_path)
    assert [p for p in problems if p.severity == "error"] == []
    rng = random.Random(15)
    n = 20_000
    a = sum(catalog.pick_variant("deterrence", "en", rng) == "a" for _ in range(n))
    # Binomial(n, 0.75): 4 standard deviations (~245) is the tolerance; a 2:1 or 4:1 choice would fail.
    assert abs(a - 0.75 * n) < 4 * math.sqrt(n * 0.75 * 0.25)


def test_variant_problems_are_reported_with_lines(tmp_path: Path) -> None:
    (tmp_path / "en.toml").write_text(
        '[deterrence]\ntitle = "T"\nbody = "B"\n[[deterrence.variants]]\nname = "default"\ntitle = "x"\nbody = "y"\n'
        '[support]\ntitle = "T"\nbody = "B"\nweight = -1\n', encoding="utf-8")
    _, problems = load_warnings(tmp_path)
    reasons = [(p.line, p.reason) for p in problems]
    assert any("unique name" in r and line == 5 for line, r in reasons), reasons
    assert any("weight must be a positive number" in r and line == 11 for line, r in reasons), reasons


def test_shipped_deterrence_has_two_wordings_with_the_same_links(catalog: WarningCatalog) -> None:
    text = catalog.texts["en"]["deterrence"]
    assert text.variant_names()[0] == ["consequences", "help-first"]
    other = text.wording("help-first")
    assert other.title != text.title and other.links == text.links and other.helplines == text.helplines


# --- cookie ---------------------------------------------------------------------------------------------

@given(names, names, st.integers(0, 10**9))
def test_cookie_holds_only_kind_variant_and_bucket(kind: str, variant: str, now: int) -> None:
    cookie = RepeatCookie(SECRET, clock=lambda: float(now))
    name, value = cookie.header(kind, variant)  # type: ignore[misc]
    text = value.decode()
    assert name == b"set-cookie" and "HttpOnly" in text and "SameSite=Strict" in text and "Max-Age=1800" in text
    payload = text.split(";")[0].split("=", 1)[1]
    assert payload.split(".")[:3] == [kind, variant, str(now // BUCKET_SECONDS)]
    follow = cookie.read(f"{COOKIE}={payload}")
    assert follow is not None and (follow.kind, follow.variant) == (kind, variant)
    later = RepeatCookie(SECRET, clock=lambda: float(now + 1800 + 2 * BUCKET_SECONDS))
    assert later.read(f"{COOKIE}={payload}") is None  # expired
    forged = payload.replace(f"{kind}.{variant}.", f"{kind}.{variant}x.", 1)
    assert cookie.read(f"{COOKIE}={forged}") is None


# --- statistics, against hand-computed / published values ---------------------------------------------------

def test_wilson_against_published_values() -> None:
    # Newcombe (1998), Stat Med 17:857, table I: 81/263 -> 0.2553 to 0.3662; 0/10 -> 0 to 0.2775.
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_newcombe_and_z_against_hand_computed_values() -> None:
    # Newcombe (1998), Stat Med 17:873, method 10: 56/70 - 48/80 -> 0.0524 to 0.3339; 9/10 - 3/10 -> 0.1705 to 0.8090.
    assert newcombe(56, 70, 48, 80) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert newcombe(9, 10, 3, 10) == pytest.approx((0.1705, 0.8090), abs=1e-4)
    # By hand: pooled p = 104/150, se = sqrt(p(1-p)(1/70 + 1/80)) = 0.075467, z = 0.2 / se = 2.6502.
    z, p = two_proportion_z(56, 70, 48, 80)
    assert z == pytest.approx(2.6502, abs=1e-3) and p == pytest.approx(0.00805, abs=1e-4)


def test_summary_rates_and_comparison() -> None:
    rows = [("2026-01-01T10:00", "shown", "deterrence", "en", "consequences", -1, 70),
            ("2026-01-01T10:00", "shown", "deterrence", "en", "help-first", -1, 80),
            ("2026-01-01T11:00", "click", "deterrence", "en", "consequences", 0, 50),
            ("2026-01-01T11:00", "click", "deterrence", "en", "consequences", 3, 6),
            ("2026-01-01T11:00", "click", "deterrence", "en", "help-first", 1, 48),
            ("2026-01-01T11:00", "repeat", "deterrence", "", "help-first", -1, 8)]
    funnel = funnel_summary(rows)
    groups = {g["variant"]: g for g in funnel["groups"]}
    assert groups["consequences"]["clicks"] == 56 and groups["consequences"]["clicks_by_link"] == {"0": 50, "3": 6}
    assert groups["consequences"]["click_rate"]["rate"] == pytest.approx(0.8)
    assert groups["help-first"]["click_rate"]["ci95"] == pytest.approx(list(wilson(48, 80)))
    (compare,) = [c for c in funnel["comparisons"] if c["measure"] == "click_rate"]
    assert compare["ci95"] == pytest.approx([0.0524, 0.3339], abs=1e-4) and compare["p_value"] == pytest.approx(0.00805, abs=1e-4)
    (repeat,) = funnel["repeats"]
    assert repeat["shown"] == 80 and repeat["repeat_rate"]["rate"] == pytest.approx(0.1)
    text = funnel_markdown(funnel)
    assert "| deterrence | en | help-first | 80 | 48 | 60.00% |" in text and "Newcombe" in text


# --- the store ------------------------------------------------------------------------------------------

def test_funnel_table_cannot_hold_text(tmp_path: Path) -> None:
    db = connect(tmp_path / "r.sqlite3")
    for row in [("2026-01-01T10:00", "shown", "deterrence", "en", "a b", -1, 1),
                ("2026-01-01T10:00", "shown", "deterrence", "en", "Query Text", -1, 1),
                ("2026-01-01T10:00", "query", "deterrence", "en", "a", -1, 1),
                ("2026-01-01T10:00", "click", "deterrence", "en?q=x", "a", 1, 1),
                ("2026-01-01T10:00", "click", "deterrence", "en", "a", 100000, 1),
                ("2026-01-01 10:17", "click", "deterrence", "en", "a", 1, 1)]:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO funnel VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    db.close()


def test_counter_flushes_funnel_rows(tmp_path: Path) -> None:
    counter = ReportCounter(tmp_path / "r.sqlite3", clock=lambda: 1_767_261_600.0)  # 2026-01-01T10:00Z
    counter.warning_shown("deterrence", "en", "help-first")
    counter.help_click("deterrence", "en", "help-first", 4)
    counter.repeat_search("deterrence", "help-first")
    counter.help_click("deterrence", "EN; DROP", "x", 1)  # not in the vocabulary: not counted
    counter.flush()
    rows = read_funnel_rows(tmp_path / "r.sqlite3", datetime(2026, 1, 1, tzinfo=UTC))
    assert sorted(rows) == sorted([("2026-01-01T10:00", "shown", "deterrence", "en", "help-first", -1, 1),
                                   ("2026-01-01T10:00", "click", "deterrence", "en", "help-first", 4, 1),
                                   ("2026-01-01T10:00", "repeat", "deterrence", "", "help-first", -1, 1)])


def test_report_cli_shows_the_funnel_and_plots_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    from filter_proxy.cli import main

    counter = ReportCounter(tmp_path / "r.sqlite3", clock=lambda: 1_767_261_600.0)
    for _ in range(4):
        counter.warning_shown("deterrence", "fr", "consequences")
    counter.help_click("deterrence", "fr", "consequences", 2)
    counter.flush()
    plot = tmp_path / "report.png"
    assert main(["report", "--db", str(tmp_path / "r.sqlite3"), "--since", "2026-01-01", "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    low, high = wilson(1, 4)
    assert f"| deterrence | fr | consequences | 4 | 1 | 25.00% | [{100 * low:.2f}%, {100 * high:.2f}%] |" in out
    assert (tmp_path / "report-funnel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
