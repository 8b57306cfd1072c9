"""RuleSet verdicts: policy per category, strongest action, allow-list, URLs, images, the shipped rules."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from filter_proxy.commands.rules_cmd import hash_phrase
from filter_proxy.demo.images import picture_png
from filter_proxy.matchers.images import ImageDecodeError, compute_hashes
from filter_proxy.rules import check_rules, load_rules
from filter_proxy.rules.ruleset import RuleSet
from filter_proxy.verdict import ALLOW
from tests.test_rules_loader import POLICY, REPO_RULES, make_rules

TERMS = {
    "terms/zqx-abuse.txt": "zqxblocked\nforbidden phrase alpha\n~zqxcoined\n",
    "terms/zqx-support.txt": "zqxhelp\nworried parent zqx\n",
    "terms/zqx-spam.txt": "zqxspam\nzqxblocked\n",
    "allow/exceptions.txt": "zqxblocked awareness campaign\n",
}


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    return load_rules(make_rules(tmp_path, TERMS))


def test_verdict_carries_the_category_policy(rules: RuleSet) -> None:
    v = rules.check_text("where to find zqxblocked")
    assert (v.action, v.category, v.warning, v.report, v.signal) == ("block", "zqx-abuse", "deterrence", True, "term")
    assert v.rule_id == "rules/terms/zqx-abuse.txt:1"
    v = rules.check_text("Worried parent ZQX, what now?")
    assert (v.action, v.category, v.warning, v.report) == ("warn", "zqx-support", "support", False)
    v = rules.check_text("cheap zqxspam")
    assert (v.action, v.warning, v.rule_id) == ("strip", None, "rules/terms/zqx-spam.txt:1")
    assert rules.check_text("bread recipe") is ALLOW
    assert rules.check_text("") is ALLOW


def test_strongest_action_wins_across_categories(rules: RuleSet) -> None:
    assert rules.check_text("zqxspam zqxhelp").action == "warn"
    assert rules.check_text("zqxhelp zqxspam forbidden phrase alpha").category == "zqx-abuse"
    # "zqxblocked" is listed under both zqx-spam (strip) and zqx-abuse (block): block wins.
    assert rules.check_text("zqxblocked").action == "block"


def test_check_texts_is_the_strongest_over_fields_without_joining_them(rules: RuleSet) -> None:
    assert rules.check_texts(["a title", "zqxspam inside", "zqxhelp here"]).action == "warn"
    assert rules.check_texts(["", "nothing", "zqxcoinedstuff"]).action == "block"
    assert rules.check_texts(["forbidden phrase", "alpha"]) is ALLOW  # a phrase never spans two fields
    assert rules.check_texts([]) is ALLOW


def test_allow_list_cancels_covered_matches_only(rules: RuleSet) -> None:
    assert rules.check_text("ZQXBLOCKED awareness campaign 2026") is ALLOW
    assert rules.check_text("zqxblocked awareness campaign and zqxblocked").action == "block"
    assert rules.check_text("zqxblocked campaign").action == "block"


def test_disguised_and_substring_entries_match(rules: RuleSet) -> None:
    for text in ("ZQXBL0CKED!", "z.q.x.b.l.o.c.k.e.d", "ｚｑｘｂｌｏｃｋｅｄ", "superzqxcoinedstuff"):
        assert rules.check_text(text).category == "zqx-abuse", text
    assert rules.check_text("zqxblockedness") is ALLOW  # whole words only


def test_hashed_entries_match_their_phrase(tmp_path: Path) -> None:
    entry = hash_phrase("forbidden phrase beta")
    assert entry == "sha256:" + hashlib.sha256(b"forbiden phrase beta").hexdigest()  # normalised form
    ruleset = load_rules(make_rules(tmp_path, {"terms/zqx-abuse.txt": f"# hashed\n{entry}\n"}))
    assert ruleset.check_text("Forbidden Phrase BETA now").rule_id == "rules/terms/zqx-abuse.txt:2"
    assert ruleset.check_text("forbidden phrase alpha") is ALLOW


def test_urls_exact_prefix_and_domain(tmp_path: Path) -> None:
    ruleset = load_rules(make_rules(tmp_path, {
        "urls/zqx-abuse.txt": "https://files.example.invalid/gallery/item-1.html\nhttps://blocked.example.invalid/*\n",
        "urls/zqx-spam.txt": "spam.example.invalid\n",
    }))
    v = ruleset.check_url("https://files.example.invalid/gallery/item-1.html")
    assert (v.action, v.signal, v.rule_id) == ("block", "url", "rules/urls/zqx-abuse.txt:1")
    assert ruleset.check_url("https://files.example.invalid/gallery/item-2.html") is ALLOW
    assert ruleset.check_url("https://blocked.example.invalid/any/path?x=1").rule_id == "rules/urls/zqx-abuse.txt:2"
    assert ruleset.check_url("https://cdn.spam.example.invalid/p").action == "strip"
    assert ruleset.check_url("https://ok.example.invalid/") is ALLOW


def test_verdict_cache_gives_the_uncached_answers(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {**TERMS, "urls/zqx-abuse.txt": "blocked.example.invalid\n"})
    cached, uncached = load_rules(root), load_rules(root)
    uncached.set_cache_size(0)
    texts = ["where to find zqxblocked", "bread recipe", "zqxspam zqxhelp", "ZQXBLOCKED awareness campaign",
             "superzqxcoinedstuff", "forbidden phrase alpha", "", "https://blocked.example.invalid/p"]
    for _ in range(3):  # first round fills the cache, later rounds are served from it
        for text in texts:
            assert cached.check_text(text) == uncached.check_text(text), text
            assert cached.check_url(text) == uncached.check_url(text), text
        assert cached.check_texts(texts[1:3]) == uncached.check_texts(texts[1:3])
        assert cached.check_texts(["forbidden phrase", "alpha"]) is ALLOW
    assert cached.check_text("bread recipe") is ALLOW
    # Text and URL verdicts are kept apart: the same string is a harmless text but a listed URL.
    assert cached.check_text(texts[-1]) is ALLOW and cached.check_url(texts[-1]).action == "block"


def test_verdict_cache_is_bounded_clearable_and_holds_no_text(rules: RuleSet) -> None:
    rules.set_cache_size(8)
    for i in range(100):
        assert rules.check_text(f"ordinary text number {i}") is ALLOW
        assert rules.check_text(f"zqxblocked {i}").action == "block"
    caches = (rules._text_cache, rules._url_cache)
    held = [key for cache in caches for gen in (cache._recent, cache._previous) for key in gen]
    assert 0 < len(held) <= 8
    assert not any(isinstance(key, str) for key in held)  # keys are digests, never the text itself
    rules.clear_cache()
    assert not any(gen for cache in (rules._text_cache,) for gen in (cache._recent, cache._previous))
    assert rules.check_text("zqxblocked again").action == "block"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_images_match_exact_near_and_mirrored(tmp_path: Path) -> None:
    listed = picture_png("listed:0")
    hashes = compute_hashes(listed, ["phash", "sha256"])
    csv = f"phash,{hashes['phash']},listed\nsha256,{hashes['sha256']}\n"
    ruleset = load_rules(make_rules(tmp_path, {"images/zqx-abuse.csv": csv}))
    v = ruleset.check_image(listed)
    assert (v.action, v.signal, v.distance, v.warning) == ("block", "image", 0, "deterrence")
    assert v.rule_id in {"rules/images/zqx-abuse.csv:1", "rules/images/zqx-abuse.csv:2"}
    mirrored = _png(ImageOps.mirror(Image.open(io.BytesIO(listed))))
    assert ruleset.check_image(mirrored).rule_id == "rules/images/zqx-abuse.csv:1"
    assert ruleset.check_image(picture_png("gen:7")) is ALLOW


def test_image_thresholds_come_from_the_policy(tmp_path: Path) -> None:
    near = f"{int('0123456789abcdef', 16) ^ 0b111:016x}"  # 3 bits away
    far = f"{int('0123456789abcdef', 16) ^ 0xFFF:016x}"  # 12 bits away
    root = make_rules(tmp_path, {"images/zqx-abuse.csv": "phash,0123456789abcdef\n"})
    ruleset = load_rules(root)
    assert ruleset.check_image_hashes({"phash": near}).distance == 3
    assert ruleset.check_image_hashes({"phash": far}) is ALLOW
    assert ruleset.check_image_hashes({"dhash": "0123456789abcdef"}) is ALLOW  # other algorithm
    (root / "policy.toml").write_text(POLICY + "\n[categories.zqx-abuse.thresholds]\nphash = 2\n")
    assert load_rules(root).check_image_hashes({"phash": near}) is ALLOW


def test_strongest_category_wins_for_images_then_closest(tmp_path: Path) -> None:
    ruleset = load_rules(make_rules(tmp_path, {
        "images/zqx-spam.csv": "phash,0123456789abcdef\n",
        "images/zqx-abuse.csv": f"phash,{int('0123456789abcdef', 16) ^ 0b11:016x}\n",
    }))
    v = ruleset.check_image_hashes({"phash": "0123456789abcdef"})
    assert (v.action, v.category, v.distance) == ("block", "zqx-abuse", 2)


def test_undecodable_image_raises_unless_its_exact_digest_is_listed(tmp_path: Path) -> None:
    junk = b"not an image at all, just bytes"
    ruleset = load_rules(make_rules(tmp_path, {
        "images/zqx-abuse.csv": f"md5,{hashlib.md5(junk).hexdigest()}\nphash,0123456789abcdef\n",
    }))
    assert ruleset.check_image(junk).rule_id == "rules/images/zqx-abuse.csv:1"
    with pytest.raises(ImageDecodeError):
        ruleset.check_image(b"other junk bytes")


def test_stats_and_identity(rules: RuleSet) -> None:
    stats = rules.stats()
    assert stats["by_category"]["terms"] == {"zqx-abuse": 3, "zqx-support": 2, "zqx-spam": 2}
    assert (stats["terms"], stats["urls"], stats["images"], stats["allow"], stats["total"]) == (7, 0, 0, 1, 7)
    assert rules.source.endswith("rules") and rules.loaded_at > 0 and len(rules.version) == 12


# -- the shipped example rule set -----------------------------------------------------------------------

def test_shipped_rules_have_no_errors() -> None:
    assert [p for p in check_rules(REPO_RULES) if p.severity == "error"] == []


def test_shipped_rules_cover_the_documented_placeholders() -> None:
    shipped = load_rules(REPO_RULES)
    abuse = shipped.check_text("zqxblocked")
    assert (abuse.action, abuse.warning, abuse.report) == ("block", "deterrence", True)
    assert shipped.check_text("forbidden phrase alpha").category == abuse.category
    support = shipped.check_text("worried parent zqx")
    assert (support.action, support.warning) == ("warn", "support")
    assert shipped.check_text("zqxspam").action == "strip"
    assert shipped.check_text("zqxblocked awareness campaign") is ALLOW
    assert shipped.check_text("superzqxcoinedstuff").category == abuse.category
    # The hashed entries stand for placeholders; each must match its phrase.
    text = (REPO_RULES / "terms" / "zqx-abuse.txt").read_text()
    for phrase in ("forbidden phrase beta", "zqxhidden"):
        entry = hash_phrase(phrase)
        assert entry is not None and entry in text
        line = text.splitlines().index(entry) + 1
        assert shipped.check_text(phrase).rule_id == f"rules/terms/zqx-abuse.txt:{line}"
    assert shipped.check_url("https://blocked.example.invalid/some/page").action == "block"
    assert shipped.check_url("https://cdn.zqx-host.example.invalid/x.jpg").action == "block"
    assert shipped.check_image(picture_png("listed:0")).action == "block"
    assert shipped.check_image(picture_png("listed:1:edited")).action == "block"
