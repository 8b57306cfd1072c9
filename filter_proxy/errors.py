"""Errors and problems found in rule files, always located as ``path:line``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a rule file. ``line`` is 0 when the problem concerns a whole file."""

    path: str
    line: int
    reason: str
    severity: str = "error"  # "error" refuses the rule set; "warning" is reported only

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.reason}" if self.severity != "error" else f"{where}: {self.reason}"


class RulesError(Exception):
    """A rule set that cannot be loaded. Carries the first error's path, line and reason, and all problems."""

    def __init__(self, path: str, line: int, reason: str, problems: list[Problem] | None = None) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        self.problems = problems or [Problem(path, line, reason)]
        where = f"{path}:{line}" if line else path
        more = len([p for p in self.problems if p.severity == "error"]) - 1
        suffix = f" (and {more} more error{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(f"{where}: {reason}{suffix}")

    @classmethod
    def from_problems(cls, problems: list[Problem]) -> RulesError:
        errors = [p for p in problems if p.severity == "error"]
        first = errors[0]
        return cls(first.path, first.line, first.reason, problems)
