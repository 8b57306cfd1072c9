"""What every signal type provides (python-threatexchange's ``SignalType`` / ``SignalTypeIndex`` style).

A signal type is a class used through its class methods, never instantiated:

- ``parse_line(text) -> (value, key)``: validate one entry line of a rule file (comment and edge spaces
  already stripped). ``value`` is what the index stores; ``key`` identifies duplicates (two spellings of one
  entry share it). A bad line raises ``SignalError(reason)``; the loader adds ``path:line``.
- ``build(entries, allow=()) -> index`` and ``from_bytes(data) -> index``.

An index answers ``match(...)`` with a list of matches (each has ``category`` and ``rule_id``; image
matches also ``algorithm`` and ``distance``), ``to_bytes()`` and ``len()``. What ``match`` takes follows the
content the signal screens: a text (terms), a URL (urls), or a picture's hashes of that algorithm and a
``threshold(category)`` (image signals).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol


class SignalError(ValueError):
    """A rule-file line that is not a valid entry of a signal type; the message is the reason."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One listed value, located by its rule id ``path:line``."""

    value: str  # as the signal type validated it (a phrase, a URL line, a lower-case hex hash)
    category: str
    rule_id: str
    signal: str = ""  # the signal type's name
    note: str = ""  # free text after the value (a hash list's note column, e.g. ``pic:<id>``)


class Match(Protocol):
    @property
    def category(self) -> str: ...

    @property
    def rule_id(self) -> str: ...


Threshold = Callable[[str], int]  # category -> max distance (image signals)


class SignalIndex(Protocol):
    """An index built by a signal type (``match`` differs per content type, see the module docstring)."""

    def to_bytes(self) -> bytes: ...

    def __len__(self) -> int: ...


class SignalType:
    """Base of all signal types. Subclasses set the class constants and implement the class methods."""

    name: ClassVar[str]  # registry key; for image hashes also the algorithm column of the CSV
    source: ClassVar[str]  # the rules sub-directory whose files list it: "terms", "urls" or "images"
    verdict_signal: ClassVar[str]  # Verdict.signal of its matches: "term", "url" or "image"
    exact: ClassVar[bool] = True  # matches only equal (canonical) values, no distance
    # The rule set's index that holds its entries: its own name, or a group shared with kindred signals
    # (every image hash algorithm is indexed in "images", so that algorithms can agree on one picture).
    index_group: ClassVar[str]
    # Several signals may share a rules sub-directory (terms: plain phrases, ``all:`` combinations,
    # ``weight=`` phrases). A line goes to the signal that ``claims`` it, else to the one ``catch_all``.
    catch_all: ClassVar[bool] = True

    @classmethod
    def claims(cls, text: str) -> bool:
        """Whether a line of this signal's source is this signal's by its form (``all:``, ``weight=``)."""
        return False

    @classmethod
    def parse_line(cls, text: str) -> tuple[str, Hashable]:
        raise NotImplementedError

    @classmethod
    def new_entries(cls) -> Any:
        """What a rules directory's entries of this signal are collected in: a list of ``Entry`` (an object
        with ``begin_file`` / ``add_line`` / ``end_file`` instead reads lines itself: the terms signal)."""
        return []

    @classmethod
    def build(cls, entries: Sequence[Entry], allow: Sequence[str] = ()) -> SignalIndex:
        """Index ``entries`` (``allow``: phrases that cancel a text match; other signals ignore them).
        ValueError names the rule id of an invalid entry."""
        raise NotImplementedError

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> SignalIndex:
        """An index written by ``to_bytes``; ValueError on a damaged buffer."""
        raise NotImplementedError


class ImageRules(Protocol):
    """What image screening needs from a rule set (``RuleSet`` provides it): the listed algorithms and a
    near-match of hashes. Lets ``images_screen`` name the type without importing ``filter_proxy.rules``."""

    @property
    def images(self) -> Any: ...

    def check_image_hashes(self, hashes: Mapping[str, str | Sequence[str]]) -> Any: ...
