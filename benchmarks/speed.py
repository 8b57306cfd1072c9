"""Speed: FilterMiddleware vs pass-through (in process and over real HTTP), CPU per 10-result page, URL
checks per second, with set / pyahocorasick baselines for the per-page matching cost."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import orjson

from benchmarks import forms, plots, synth
from benchmarks.baselines import AhoCorasickTerms, SetTerms, SubstringScan
from benchmarks.harness import SuiteResult, log, median, percentile
from benchmarks.loadgen import run_load
from benchmarks.searchapp import SearchApp, make_results
from benchmarks.subjects import available, compile_rules, load_rules, write_rules_dir

N_TERMS = 100_000
N_URLS = 10_000


def run(quick: bool, out_dir: Path) -> SuiteResult:
    result = SuiteResult("speed", quick)
    started = time.monotonic()
    missing = available("filter_proxy.rules.loader", "filter_proxy.matchers.terms", "filter_proxy.signals.urls",
                        "filter_proxy.middleware")
    if missing:
        result.note(f"speed not measured: {missing}")
        for key in ("overhead_ratio", "cpu_per_page_ms", "url_checks_per_s"):
            result.target(key, None, "module missing")
        return result
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp:
        root = write_rules_dir(Path(tmp) / "rules", terms=synth.placeholder_terms(N_TERMS, seed=1),
                               urls=synth.placeholder_urls(N_URLS, seed=2))
        log(f"speed: compiling {N_TERMS:,} terms and {N_URLS:,} URLs into a bundle")
        bundle = Path(tmp) / "rules.bundle"
        compile_rules(root, bundle)
        rules = load_rules(bundle)
        cold = _cache_off(bundle)
        terms = [t for t in (root / "terms" / "zqx-abuse.txt").read_text("utf-8").split("\n")[:200] if t]
        blocked = synth.placeholder_urls(60, seed=2)
        results = make_results(1000, terms, blocked)
        static_added_us = _in_process(result, rules, cold, results, quick)
        page_ms = _cpu_per_page(result, rules, cold, results, root, quick)
        result.note(f"of the +{static_added_us:.0f} us per filtered request (static page), ~{1000 * page_ms:.0f} us are "
                    f"the RuleSet checks of the 10 results; the rest (~{static_added_us - 1000 * page_ms:.0f} us) is the "
                    "middleware around them: JSON parse and re-encode, adapter views, the query check, routing")
        _url_checks(result, rules, cold, quick)
        forms.cpu_per_page(result, Path(tmp), synth.placeholder_terms(N_TERMS, seed=1),
                           synth.placeholder_urls(N_URLS, seed=2), results, quick)
        pool = Path(tmp) / "results.json"
        pool.write_bytes(orjson.dumps(results))
        _http(result, root, bundle, pool, quick, out_dir)
    words_title = sum(len(r["title"].split()) for r in results) / len(results)
    words_snippet = sum(len(r["content"].split()) for r in results) / len(results)
    result.note(f"result pool: {len(results):,} results of real English text (mean {words_title:.1f} words per "
                f"title, {words_snippet:.1f} per snippet); ~3 % carry a listed term, ~2 % a listed URL.")
    result.note(f"rule set: {N_TERMS:,} placeholder terms, {N_URLS:,} placeholder URLs (domains, prefixes, exact).")
    result.seconds = time.monotonic() - started
    return result


# --- in process ---------------------------------------------------------------------------------------------
async def _drive(app: Any, paths: list[str]) -> tuple[float, int]:
    """Seconds for all requests, sent one after another straight into the ASGI app; and the 200 count."""
    ok = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal ok
        if message["type"] == "http.response.start" and message["status"] == 200:
            ok += 1

    start = time.perf_counter()
    for p in paths:
        path, _, qs = p.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": qs.encode(), "root_path": "",
                 "headers": [(b"host", b"bench.invalid"), (b"accept", b"application/json")],
                 "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80)}
        await app(scope, receive, send)
    return time.perf_counter() - start, ok


def _queries(n: int) -> list[str]:
    corpus = [line for lines in synth.benign_corpus(2, 4).values() for line in lines][:n]
    return [f"/search?q={urllib.parse.quote_plus(q)}&format=json" for q in corpus]


def _cache_off(bundle: Path) -> Any:
    """A second copy of the rule set with the verdict cache off (the cold path: every field checked)."""
    rules = load_rules(bundle)
    if hasattr(rules, "set_cache_size"):
        rules.set_cache_size(0)
    return rules


def _in_process(result: SuiteResult, rules: Any, cold: Any, results: list[dict[str, Any]], quick: bool) -> float:
    """Records the overhead ratio; returns the added microseconds per request on the static page (cache off)."""
    from filter_proxy.middleware import FilterMiddleware

    rounds, per_round = (5, 200) if quick else (10, 1000)
    paths = _queries(200)
    rows: list[list[Any]] = []
    ratio_fts = static_added = float("nan")
    # Two backends: a precomputed page (no work at all: the pure cost of filtering) and a real SQLite FTS5
    # search over the result pool (a small but real search backend, ~0.5 ms per query). The filter runs with
    # the verdict cache off (every field checked: the judged figure) and on (pages here repeat, so warm).
    for label, fts in (("static page", False), ("SQLite FTS5 search", True)):
        apps = {"pass-through": SearchApp(results, fts=fts),
                "FilterMiddleware, verdict cache off": FilterMiddleware(SearchApp(results, fts=fts), rules=cold,
                                                                        adapter="searxng"),
                "FilterMiddleware, verdict cache warm": FilterMiddleware(SearchApp(results, fts=fts), rules=rules,
                                                                         adapter="searxng")}
        times: dict[str, list[float]] = {name: [] for name in apps}
        loop = asyncio.new_event_loop()
        try:
            for app in apps.values():
                loop.run_until_complete(_drive(app, paths[:50]))  # warm-up
            batch = (paths * 10)[:per_round]
            for _ in range(rounds):  # interleaved rounds: load changes on a shared machine hit all alike
                for name, app in apps.items():
                    seconds, ok = loop.run_until_complete(_drive(app, batch))
                    times[name].append(seconds)
                    if ok != per_round:
                        result.note(f"in-process {label}, {name}: {per_round - ok} non-200 responses")
            split: dict[str, tuple[float, float]] = {}  # after the timed rounds: where a filtered request's CPU goes (the wrappers cost a little)
            cpu_pass = _cpu_per_request(loop, apps["pass-through"], batch)
            for name, app in apps.items():
                if name != "pass-through":
                    split[name] = _split(loop, app, rules if name.endswith("warm") else cold, batch, cpu_pass)
        finally:
            loop.close()
        base = median(times["pass-through"])
        for name, t in times.items():
            ratios = [p / f for p, f in zip(times["pass-through"], t, strict=True)]
            added = 1e6 * (median(t) - base) / per_round
            checks, own = split.get(name, (None, None))
            rows.append([label, name, per_round / median(t), 1e6 * median(t) / per_round,
                         added if name != "pass-through" else None, checks, own, median(ratios)])
            if name.endswith("cache off"):
                log(f"speed: in-process {label}: ratio {median(ratios):.3f} (+{added:.0f} us per request, cache off)")
                if fts:
                    ratio_fts = median(ratios)
                else:
                    static_added = added
    result.table("In-process ASGI (requests straight into the app, 10-result SearXNG pages, 100k terms)",
                 ["backend", "app", "requests/s (median)", "us per request", "added us", "of it RuleSet checks us (CPU)",
                  "of it the middleware's own us (CPU)", "ratio vs pass-through"],
                 rows)
    result.note("in-process split (one extra CPU-timed batch per filtered app after the timed rounds): 'RuleSet "
                "checks' is the CPU time inside RuleSet.check_* calls, 'the middleware's own' is the rest of the CPU "
                "added per request (routing, request guards, query reading, JSON parse and re-encode, adapter "
                "views, the page walks, the response)")
    result.target("overhead_ratio", ratio_fts, f"in-process, SQLite FTS5 search app, verdict cache off, {rounds} "
                  f"interleaved rounds of {per_round}; see the table for the static page and the warm cache")
    return static_added


_CHECKS = ("check_many", "check_url", "check_texts", "check_text", "check_forms", "check_prefix", "check_suffix",
           "check_image_hashes")


def _cpu_per_request(loop: Any, app: Any, paths: list[str]) -> float:
    start = time.process_time()
    loop.run_until_complete(_drive(app, paths))
    return 1e6 * (time.process_time() - start) / len(paths)


def _split(loop: Any, app: Any, rules: Any, paths: list[str], cpu_pass: float) -> tuple[float, float]:
    """(CPU us per request inside RuleSet checks, the rest of the CPU us added per request): one batch with
    the rule set's check methods wrapped on the instance (removed afterwards)."""
    spent = [0.0]
    depth = [0]

    def wrap(fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if depth[0]:  # a check inside a check (check_texts -> check_many) is counted once
                return fn(*args, **kwargs)
            depth[0] += 1
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.process_time() - start
                depth[0] -= 1
        return timed

    names = [n for n in _CHECKS if hasattr(rules, n)]
    for name in names:
        setattr(rules, name, wrap(getattr(rules, name)))
    try:
        total = _cpu_per_request(loop, app, paths)
    finally:
        for name in names:
            delattr(rules, name)  # back to the class's methods
    checks = 1e6 * spent[0] / len(paths)
    return checks, total - checks - cpu_pass


# --- CPU per page -----------------------------------------------------------------------------------------
def _cpu_per_page(result: SuiteResult, rules: Any, cold: Any, results: list[dict[str, Any]], root: Path,
                  quick: bool) -> float:
    """Records the CPU per page; returns it in milliseconds."""
    from filter_proxy.normalize import words

    pages = [results[i:i + 10] for i in range(0, len(results), 10)]
    rounds = 3 if quick else 10

    def timed_once(fn: Any, page: list[dict[str, Any]]) -> float:
        start = time.perf_counter()
        fn(page)
        return (time.perf_counter() - start) * 1000

    def timed(fn: Any) -> list[float]:
        out = []
        for _ in range(rounds):
            for page in pages:
                start = time.perf_counter()
                fn(page)
                out.append((time.perf_counter() - start) * 1000)
        return out

    def checker(rs: Any) -> Any:
        # As the middleware screens a page (screening.screen_results): the page's strings in one batch
        # (RuleSet.check_many, issue 14), each URL on its own.
        def fn(page: list[dict[str, Any]]) -> None:
            rs.check_many([text for r in page for text in (r["title"], r["content"])])
            for r in page:
                rs.check_url(r["url"])
        return fn

    def per_field(rs: Any) -> Any:
        def fn(page: list[dict[str, Any]]) -> None:
            for r in page:
                rs.check_texts((r["title"], r["content"]))
                rs.check_url(r["url"])
        return fn

    def per_string(rs: Any) -> Any:  # the path before issue 14: one string at a time (check_text)
        def fn(page: list[dict[str, Any]]) -> None:
            for r in page:
                rs.check_text(r["title"])
                rs.check_text(r["content"])
                rs.check_url(r["url"])
        return fn

    ours = checker(cold)

    listed = [t for t in (root / "terms" / "zqx-abuse.txt").read_text("utf-8").split("\n") if t]
    normalised = [" ".join(words(t)) for t in listed]
    set_base = SetTerms(normalised)
    log("speed: building the pyahocorasick baseline")
    aho = AhoCorasickTerms(normalised)

    def with_base(matcher: Any) -> Any:
        def fn(page: list[dict[str, Any]]) -> None:
            for r in page:
                matcher.match_words(words(r["title"]))
                matcher.match_words(words(r["content"]))
        return fn

    def normalise_only(page: list[dict[str, Any]]) -> None:
        for r in page:
            words(r["title"])
            words(r["content"])

    ours_ms = median(timed(ours))
    warm_ms = float("nan")
    if hasattr(rules, "clear_cache"):
        rules.clear_cache()
        first = [timed_once(checker(rules), page) for page in pages]  # every field a miss
        warm_ms = median(timed(checker(rules)))  # every field seen before
    rows = [["filter-proxy RuleSet.check_many (the page's strings) + check_url, verdict cache off", ours_ms, 1.0],
            ["  same, cache on, cold (every field a miss)", median(first) if warm_ms == warm_ms else None, None],
            ["  same, cache on, warm (every field seen before)", warm_ms, None],
            ["  per field: RuleSet.check_texts((title, snippet)) + check_url, 10 calls", median(timed(per_field(cold))),
             None],
            ["  one string at a time: RuleSet.check_text per string + check_url (the path before issue 14)",
             median(timed(per_string(cold))), None],
            ["normalise only (words() of title and snippet)", median(timed(normalise_only)), None]]
    for name, matcher in (("normalise + Python set n-grams (terms only)", set_base),
                          ("normalise + pyahocorasick (terms only)", aho)):
        ms = median(timed(with_base(matcher)))
        rows.append([name, ms, ms / ours_ms])
    # The naive scan is linear in the list: measured on 2,000 phrases and scaled to the full list.
    small = normalised[:2_000]
    scan_ms = median(timed(with_base(SubstringScan(small)))) * len(normalised) / len(small)
    rows.append([f"normalise + naive substring scan (measured on {len(small):,} phrases, x{len(normalised) // len(small)})",
                 scan_ms, scan_ms / ours_ms])
    result.table("CPU per 10-result page (title + snippet + URL per result), median; filter-proxy rows with the "
                 "verdict cache off unless said",
                 ["matcher", "ms per page", "vs filter-proxy"], rows)
    result.target("cpu_per_page_ms", ours_ms, f"verdict cache off, median over {len(pages)} pages x {rounds} rounds")
    log(f"speed: {ours_ms:.3f} ms per page")
    return ours_ms


def _url_checks(result: SuiteResult, rules: Any, cold: Any, quick: bool) -> None:
    from filter_proxy.signals.urls import canonicalize_url

    urls = synth.benign_urls(5_000 if quick else 20_000)
    listed = synth.placeholder_urls(300, seed=2)
    urls += [_disguise_url(u) for u in listed]
    rounds = 3 if quick else 7
    check, canon, warm, cpu_us = [], [], [], []
    for _ in range(rounds):
        start, cpu = time.perf_counter(), time.process_time()
        for u in urls:
            cold.check_url(u)
        check.append(len(urls) / (time.perf_counter() - start))
        cpu_us.append((time.process_time() - cpu) * 1e6 / len(urls))  # CPU time: steadier on a busy machine
        start = time.perf_counter()
        for u in urls:
            rules.check_url(u)
        warm.append(len(urls) / (time.perf_counter() - start))
        start = time.perf_counter()
        for u in urls:
            canonicalize_url(u)
        canon.append(len(urls) / (time.perf_counter() - start))
    matched = sum(cold.check_url(u).action != "allow" for u in urls[-len(listed):])
    rate = median(check)
    result.table("URL checks on one core", ["step", "per second (median)"],
                 [["RuleSet.check_url (canonicalise + match), verdict cache off", rate],
                  ["RuleSet.check_url, verdict cache warm (same URLs again)", median(warm)],
                  ["canonicalize_url alone", median(canon)]])
    result.target("url_checks_per_s", rate, f"verdict cache off; {len(urls):,} URLs, {N_URLS:,} listed; {matched}/{len(listed)} disguised listed URLs matched")
    result.target("url_check_cpu_us", median(cpu_us), f"RuleSet.check_url, verdict cache off, CPU time per URL; "
                  f"{len(urls):,} URLs, {N_URLS:,} listed")
    log(f"speed: {rate:,.0f} URL checks/s")


def _disguise_url(entry: str) -> str:
    """A listed URL as a result would carry it: host case, www., default port, tracking parameter, and a
    path below a listed prefix; a listed domain is visited on a subdomain."""
    if not entry.startswith("http"):
        return f"http://sub.{entry.upper()}:80/a?utm_source=x"
    parts = urllib.parse.urlsplit(entry.replace("/*", "/x"))
    return urllib.parse.urlunsplit((parts.scheme, f"WWW.{parts.hostname.upper()}:443" if parts.hostname else "",
                                    parts.path, "utm_campaign=x", ""))


# --- real HTTP ----------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(mode: str, root: Path, bundle: Path, pool: Path, thumbs: bool) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    cmd = [sys.executable, "-m", "benchmarks.searchapp", "--port", str(port), "--mode", mode,
           "--rules", str(root), "--bundle", str(bundle), "--results", str(pool), "--fts"] + (["--thumbs"] if thumbs else [])
    return subprocess.Popen(cmd, cwd=Path(__file__).resolve().parent.parent), port


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def _http(result: SuiteResult, root: Path, bundle: Path, pool: Path, quick: bool, out_dir: Path) -> None:
    thumbs = available("filter_proxy.images_screen") is None
    variants = [("text", False)] + ([("thumbnails", True)] if thumbs else [])
    seconds, rounds, cap = (1.0, 1, 20_000) if quick else (4.0, 3, 200_000)
    servers: dict[tuple[str, str], tuple[subprocess.Popen[bytes], int]] = {}
    paths = _queries(200)
    try:
        for label, with_thumbs in variants:
            for mode in ("pass", "filtered"):
                servers[label, mode] = _start(mode, root, bundle, pool, with_thumbs)
        for proc, port in servers.values():
            _wait_ready(port, proc)
        if thumbs:  # warm the screener's hash cache: 5 consecutive pages cover all thumbnails
            port = servers["thumbnails", "filtered"][1]
            asyncio.run(run_load("127.0.0.1", port, paths, 1, 50, 60))
            kept, shown = _thumbs_kept(port, paths[0])
            result.note(f"thumbnail pages after warm-up: {kept} of the {shown} results left on a sample page kept "
                        "their thumbnail (none is listed, so a hidden one would mean 'unverified in time')")
        rows, plot_rows = [], []
        for conc in (1, 32):
            for label, _ in variants:
                runs: dict[str, list[Any]] = {"pass": [], "filtered": []}
                for _ in range(rounds):
                    for mode in ("pass", "filtered"):
                        port = servers[label, mode][1]
                        runs[mode].append(asyncio.run(run_load("127.0.0.1", port, paths, conc, cap, seconds)))
                figures = {}
                for mode, loads in runs.items():
                    total = sum(r.requests for r in loads)
                    secs = sum(r.seconds for r in loads)
                    lat = [x for r in loads for x in r.latencies]
                    errors = sum(r.errors for r in loads) + sum(n for r in loads for s, n in r.statuses.items() if s != 200)
                    figures[mode] = (total / secs, 1000 * percentile(lat, 50), 1000 * percentile(lat, 99), errors)
                    rows.append([f"{label}, concurrency {conc}", "pass-through" if mode == "pass" else "filtered",
                                 *figures[mode]])
                ratio = figures["filtered"][0] / figures["pass"][0]
                rows.append([f"{label}, concurrency {conc}", "ratio filtered / pass-through", ratio, None, None, None])
                plot_rows.append((f"{label} c={conc}", figures["pass"][0], figures["filtered"][0]))
                log(f"speed: HTTP {label} c={conc}: ratio {ratio:.3f}")
        result.table("Real HTTP (uvicorn + uvloop + httptools on loopback, SQLite FTS5 search app, keep-alive load generator)",
                     ["pages", "server", "requests/s", "p50 ms", "p99 ms", "errors"], rows)
        result.plots.append(plots.throughput_bars(plot_rows, "http_throughput.png", out_dir))
        result.note("real HTTP servers run with the default verdict cache; pages repeat here, so it is warm.")
        result.note("real HTTP: server and load generator share the same 2 cores (and other users' jobs), so "
                    "absolute requests/s are low and noisy; the in-process ratio is the cleaner overhead figure.")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _thumbs_kept(port: int, path: str) -> tuple[int, int]:
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        doc = json.loads(client.get(path).content)
    results = doc.get("results", [])
    return sum(1 for r in results if r.get("img_src")), len(results)
