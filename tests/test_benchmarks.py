"""Smoke tests of the benchmark harness pieces (small inputs only; no timing is asserted)."""

from __future__ import annotations

import json
import random
import unicodedata

import numpy as np
import pytest

# The suite's baselines and plots need the [bench] extra: without it these tests skip, they do not fail.
pytest.importorskip("ahocorasick", reason="pyahocorasick is in the [bench] extra")
pytest.importorskip("matplotlib", reason="matplotlib is in the [bench] extra")

from benchmarks import disguise, report  # noqa: E402
from benchmarks.baselines import AhoCorasickTerms, LinearHashScan, SetTerms, SubstringScan  # noqa: E402
from benchmarks.harness import TARGETS, SuiteResult  # noqa: E402
from benchmarks.synth import placeholder_terms, placeholder_urls  # noqa: E402


def test_every_disguise_class_changes_the_term_and_keeps_its_letters() -> None:
    rng = random.Random(3)
    term = "zqxbalo tesimo"
    for name in disguise.all_names():
        out = disguise.disguise(term, name, rng)
        assert out != term, name
    assert any(unicodedata.name(c).startswith("CYRILLIC") for c in disguise.disguise(term, "cyrillic look-alikes", rng))
    assert any(unicodedata.name(c).startswith("GREEK") for c in disguise.disguise(term, "greek look-alikes", rng))
    assert all(ord(c) >= 0x3000 for c in disguise.disguise(term, "full-width", rng))
    assert "z.q.x.b.a.l.o" in disguise.disguise("zqxbalo", "dotted letters", rng)
    assert "z-q-x-b-a-l-o" in disguise.disguise("zqxbalo", "dashed letters", rng)
    assert disguise.disguise("zqxbalo", "spaced letters", rng) == "z q x b a l o"
    zw = disguise.disguise("zqxbalotesimo", "zero-width inserted", rng)
    assert any(c in disguise.ZERO_WIDTH for c in zw) and "".join(c for c in zw if c not in disguise.ZERO_WIDTH) == "zqxbalotesimo"
    assert len(disguise.disguise("zqxbalo", "repeated letters", rng)) > len("zqxbalo")
    stripped = unicodedata.normalize("NFKD", disguise.disguise("zqxbalo", "accents", rng))
    assert "".join(c for c in stripped if not unicodedata.combining(c)) == "zqxbalo"
    assert any(c.isdigit() for c in disguise.disguise("zqxbalo tesimo", "leetspeak", rng))
    assert disguise.disguise("zqxbalo", "case changes", rng).lower() == "zqxbalo"


def test_placeholder_generators_are_unique_nonsense() -> None:
    terms = placeholder_terms(500, avoid={"bale"})
    assert len(set(terms)) == 500 and "bale" not in {w for t in terms for w in t.split()}
    assert all(u.startswith("https://") or u.endswith(".example.invalid") for u in placeholder_urls(30))
    assert all(".example.invalid" in u for u in placeholder_urls(30))


def test_baselines_agree_on_whole_word_matches() -> None:
    phrases = ["zqxbalo", "tesimo kavu"]
    for cls in (SetTerms, SubstringScan, AhoCorasickTerms):
        m = cls(phrases)
        assert m.match_words(["find", "zqxbalo", "now"]), cls
        assert m.match_words(["tesimo", "kavu"]), cls
        assert not m.match_words(["prezqxbalo", "tesimo"]), cls
    scan = LinearHashScan(np.array([0, 0xFF, 2**63], dtype=np.uint64))
    assert scan.near(0b111, 4).tolist() == [0, 2]  # distances 3, 5, 4


def test_result_writer_and_table_formatter(tmp_path) -> None:
    result = SuiteResult("speed", quick=True)
    result.table("figures", ["what", "value"], [["a", 1234567], ["b", 0.000123], ["c", float("nan")]])
    result.target("overhead_ratio", 0.87)
    result.target("cpu_per_page_ms", 0.05)
    result.target("term_recall", 90.0)
    result.target("url_checks_per_s", None)
    result.target("image_tpr", 99.5, failed_condition="false-match rate 0.02 % > 0.01 %")
    statuses = [t["status"] for t in result.targets]
    assert statuses[:2] == ["met (goal not met)", "met (goal met)"] and statuses[3] == "not measured"
    # every "not met" says why in words (deliberate change: it was a bare "not met")
    assert statuses[2] == "not met: 90 % is below the minimum 99 % (9 % short)"
    assert statuses[4].startswith("not met (false-match rate")
    json_path, md_path = report.write_results(result, tmp_path)
    data = json.loads(json_path.read_text())
    assert data["suite"] == "speed" and data["tables"]["figures"]["rows"][2][1] is None
    assert data["machine"]["cpu_count"] >= 1 and data["machine"]["python"]
    md = md_path.read_text()
    assert "| a | 1,234,567 |" in md and "NOT MET" in md and TARGETS["overhead_ratio"].what in md
    assert "90 % is below the minimum" in md  # the words, below the table
    summary = report.write_summary(tmp_path).read_text()
    assert "met, goal met" in summary and "speed" in summary and "false-match rate 0.02 %" in summary
    readme = tmp_path / "README.md"
    readme.write_text("# B\n\nintro\n\n" + report.README_MARKER + "\n\nold figures\n")
    report.update_readme(readme, tmp_path)
    updated = readme.read_text()
    assert updated.startswith("# B\n\nintro") and "old figures" not in updated and "met, goal met" in updated
    text = report.format_table(["x", "y"], [["long name", 1.5], ["b", 22]])
    lines = text.splitlines()
    assert lines[0].startswith("x") and lines[2].endswith("1.5") and len({len(line) for line in lines}) == 1


def test_console_tables_fit_110_columns() -> None:
    result = SuiteResult("speed", quick=True)
    result.table("a very long table title " * 8, ["what it measures in words", "value", "another long header"],
                 [["x" * 300, 1.5, "y " * 120], ["short", 2, "z"]])
    result.target("overhead_ratio", 0.5, note="in-process, SQLite FTS5 search app, verdict cache off " * 3)
    text = report.to_console(result)
    assert max(len(line) for line in text.splitlines()) <= report.WIDTH
    assert "NOT MET" in text and "is below the minimum 0.85" in text


def test_quick_runs_never_replace_the_full_results(tmp_path, capsys) -> None:
    from benchmarks.__main__ import QUICK_RESULTS, RESULTS, main

    assert QUICK_RESULTS.parent == RESULTS
    with pytest.raises(SystemExit) as exc:
        main(["--quick", "--out", str(RESULTS), "speed"])
    assert exc.value.code == 2 and "never replace the full-run results" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--quick", "--update-readme", "speed"])
    ignored = (RESULTS.parent.parent / ".gitignore").read_text()
    assert "benchmarks/results/quick/" in ignored


def test_plots_say_which_run_and_draw_the_target(tmp_path) -> None:
    from benchmarks import plots

    plots.set_run(True, {"commit": "abc1234", "cpu_count": 2, "python": "3.11", "date": "2026-11-29 07:00 UTC"})
    try:
        assert "QUICK run" in plots._RUN["footer"] and "abc1234" in plots._RUN["footer"]
        assert plots.run_label() == " (quick run)"
        path = plots.throughput_bars([("page", 1000.0, 800.0)], "t.png", tmp_path)
        assert (tmp_path / "t.png").stat().st_size > 1000 and path.endswith("t.png")
    finally:
        plots.set_run(False, {})


def test_machine_info_records_each_compiled_kernel_and_whether_it_imports() -> None:
    from benchmarks.harness import compiled_kernels
    from benchmarks.report import _kernels

    kernels = compiled_kernels()
    assert "filter_proxy.matchers._page_kernel" in kernels
    try:
        from filter_proxy.matchers import _page_kernel  # type: ignore[attr-defined]  # noqa: F401
        built = True
    except ImportError:
        built = False
    assert kernels["filter_proxy.matchers._page_kernel"] is built
    assert "NOT built" in _kernels({"compiled_kernels": {"filter_proxy.matchers._page_kernel": False}})
    assert "_page_kernel built" in _kernels({"compiled_kernels": {"filter_proxy.matchers._page_kernel": True}})
    assert "not recorded" in _kernels({})
