"""A deterministic synthetic corpus for the demo: a few hundred ordinary documents, a few of them planted
with listed placeholders (terms, URLs, thumbnails) so that filtering is visible.

Everything is generated from word lists with a fixed seed, so every machine builds the same corpus and the
shipped example rules (rules/) always agree with it. Placeholders only: never real abuse terms or URLs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

SEED = 20240611
SIZE = 320

# Placeholders that the shipped example rules list (rules/terms/*.txt, rules/urls/*.txt); tests check that
# each one really is listed, so a change to the rules that drops one fails loudly.
LISTED_TERMS: tuple[str, ...] = ("zqxblocked", "forbidden phrase alpha")
# A listed term of a "strip" category: results carrying it vanish without any warning.
STRIPPED_TERMS: tuple[str, ...] = ("zqxspam",)
# A listed path prefix, and a subdomain of a listed domain.
LISTED_URL_PREFIXES: tuple[str, ...] = ("https://blocked.example.invalid/", "https://media.zqx-host.example.invalid/")
# Number of distinct listed pictures; each is planted once as-is and once as an edited copy (near match).
LISTED_PICTURES = 2

# Suggestions the autocompleter knows besides titles; the listed ones show that suggestions are filtered.
EXTRA_SUGGESTIONS: tuple[str, ...] = (
    "bread recipe",
    "bread zqxblocked",
    "best telescope for beginners",
    "forbidden phrase alpha",
    "gravel bike tyres",
    "zqxblocked pictures",
)


@dataclass(frozen=True, slots=True)
class Document:
    id: int
    topic: str
    title: str
    body: str
    url: str
    picture: str  # what /thumbs/<id>.png shows: "gen:<seed>", "listed:<k>" or "listed:<k>:edited"
    planted: str | None = None  # "term", "spam", "url" or "image" when a listed placeholder was planted (tests, docs)


# topic -> (site, subjects, qualities, aspects, sentences); sentences use {s} (subject) and {q} (quality).
_TOPICS: dict[str, tuple[str, list[str], list[str], list[str], list[str]]] = {
    "recipes": (
        "kitchen-notes",
        ["bread", "sourdough loaf", "lentil soup", "tomato sauce", "banana bread", "pancakes", "risotto",
         "vegetable curry", "apple pie", "focaccia", "flatbread", "minestrone"],
        ["easy", "rustic", "weeknight", "crispy", "slow-cooked", "hearty", "simple", "classic"],
        ["recipe", "step by step", "for beginners", "with pantry staples", "in one pot", "for a crowd"],
        ["This {q} {s} takes about an hour and needs only a few ingredients.",
         "Knead, rest and bake: the {s} keeps for three days in a tin.",
         "A {q} {s} recipe with notes on flour, salt and oven temperature.",
         "Serve the {s} warm with a green salad and good olive oil."],
    ),
    "gardening": (
        "green-thumb",
        ["tomatoes", "roses", "basil", "lavender", "potatoes", "tulips", "strawberries", "runner beans",
         "apple trees", "herb pots"],
        ["healthy", "organic", "small-space", "seasonal", "low-maintenance", "balcony"],
        ["planting guide", "pruning tips", "watering schedule", "companion planting", "in containers"],
        ["Plant {s} after the last frost in rich, well-drained soil.",
         "A {q} approach to {s}: mulch in spring and feed every two weeks.",
         "Compost, sunlight and patience are what {s} need most.",
         "Our notes on growing {s} from seed through to harvest."],
    ),
    "cycling": (
        "spoke-and-chain",
        ["gravel bike", "road bike", "commuter bike", "tyre pressure", "chain maintenance", "bike fit",
         "touring bags", "disc brakes", "winter riding"],
        ["practical", "budget", "long-distance", "everyday", "lightweight", "reliable"],
        ["guide", "checklist", "explained", "for commuters", "for touring", "tips"],
        ["A {q} guide to {s} with advice for your first hundred kilometres.",
         "Clean and lube the chain, then check {s} before every long ride.",
         "How {s} changes comfort, speed and safety on mixed roads.",
         "Riders share what they learned about {s} over a wet season."],
    ),
    "astronomy": (
        "night-sky",
        ["Jupiter", "Saturn's rings", "the Orion Nebula", "meteor showers", "the Andromeda galaxy",
         "lunar eclipses", "telescopes", "star charts", "the Milky Way"],
        ["naked-eye", "backyard", "beginner", "dark-sky", "seasonal", "amateur"],
        ["observing guide", "for beginners", "this month", "with binoculars", "explained"],
        ["Find {s} after midnight, low in the eastern sky.",
         "A {q} introduction to {s} with a simple star chart.",
         "Binoculars and a dark site are enough to enjoy {s}.",
         "What amateur astronomers see when they observe {s}."],
    ),
    "birdwatching": (
        "field-notes",
        ["robins", "herons", "owls", "swallows", "woodpeckers", "kingfishers", "bird feeders",
         "spring migration"],
        ["patient", "quiet", "early-morning", "garden", "wetland", "seasonal"],
        ["identification guide", "where to look", "for families", "notebook", "calls and songs"],
        ["Listen for {s} at dawn near hedges and open water.",
         "A {q} walk is the best way to spot {s}.",
         "Field marks, calls and habitats that help identify {s}.",
         "Keep a notebook: sightings of {s} change with the seasons."],
    ),
    "woodworking": (
        "workbench",
        ["dovetail joints", "a cutting board", "hand planes", "a bookshelf", "wood finishes",
         "chisel sharpening", "a step stool", "oak", "pine"],
        ["hand-tool", "weekend", "beginner", "traditional", "sturdy", "simple"],
        ["project", "how to", "tool guide", "tips", "plans"],
        ["Mark, saw and pare: {s} are easier than they look.",
         "A {q} project built around {s} and a few clamps.",
         "Sharp tools and square stock make {s} a pleasure.",
         "Finish {s} with oil and wax for a warm, durable surface."],
    ),
}


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _plain(rng: random.Random, doc_id: int, topic: str) -> Document:
    site, subjects, qualities, aspects, sentences = _TOPICS[topic]
    subject, quality, aspect = rng.choice(subjects), rng.choice(qualities), rng.choice(aspects)
    title = f"{quality.capitalize()} {subject} {aspect}"
    first, second = rng.sample(sentences, 2)
    body = " ".join(s.format(s=subject, q=quality) for s in (first, second))
    url = f"https://{site}.example.invalid/{topic}/{_slug(subject)}-{doc_id}"
    return Document(doc_id, topic, title, body, url, f"gen:{rng.randrange(1 << 30)}")


def _plant(rng: random.Random, doc: Document, kind: str, k: int) -> Document:
    if kind == "term":
        term = LISTED_TERMS[k % len(LISTED_TERMS)]
        if k % 2:  # half in the title, half in the snippet: both fields are screened
            return _replace(doc, title=f"{doc.title} {term}", planted="term")
        return _replace(doc, body=f"{doc.body} See also {term}.", planted="term")
    if kind == "spam":
        return _replace(doc, body=f"{doc.body} Cheap {STRIPPED_TERMS[k % len(STRIPPED_TERMS)]} offers here.",
                        planted="spam")
    if kind == "url":
        prefix = LISTED_URL_PREFIXES[k % len(LISTED_URL_PREFIXES)]
        return _replace(doc, url=f"{prefix}{doc.topic}/{doc.id}", planted="url")
    picture = f"listed:{k % LISTED_PICTURES}" + ("" if k < LISTED_PICTURES else ":edited")
    return _replace(doc, picture=picture, planted="image")


def _replace(doc: Document, **changes: object) -> Document:
    fields = {name: getattr(doc, name) for name in Document.__slots__}
    fields.update(changes)
    return Document(**fields)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def build_corpus(size: int = SIZE, seed: int = SEED) -> tuple[Document, ...]:
    """The demo corpus: ``size`` documents, the same on every machine for a given seed."""
    rng = random.Random(seed)
    topics = sorted(_TOPICS)
    docs = [_plain(rng, i, topics[i % len(topics)]) for i in range(1, size + 1)]
    # Plant listed placeholders in a few documents of every topic: ~4 % terms, ~1 % spam, ~2 % URLs, 4 images.
    order = rng.sample(range(size), size)
    plan = (["term"] * max(2, size // 25) + ["spam"] * max(2, size // 80) + ["url"] * max(2, size // 50)
            + ["image"] * (2 * LISTED_PICTURES))
    counts: dict[str, int] = {}
    for index, kind in zip(order, plan, strict=False):
        k = counts.get(kind, 0)
        counts[kind] = k + 1
        docs[index] = _plant(rng, docs[index], kind, k)
    return tuple(docs)


def suggestion_pool(docs: tuple[Document, ...]) -> list[str]:
    """Phrases the autocompleter completes from: lower-cased titles plus a few common searches."""
    pool = set(EXTRA_SUGGESTIONS)
    for doc in docs:
        title = doc.title.lower()
        pool.add(title)
        pool.add(title.split(" ", 1)[1])  # without the leading quality word: "apple pie recipe"
    return sorted(pool)
