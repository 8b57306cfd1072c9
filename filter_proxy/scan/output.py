"""What a scan writes: findings (JSONL or CSV: id, index, category, signal, rule id, action; never the
document's text), the checkpoint that lets an interrupted scan resume, and delete requests for review."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

FIELDS = ("id", "index", "category", "signal", "rule_id", "action")


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    index: str
    category: str
    signal: str
    rule_id: str
    action: str


class FindingWriter:
    """Appends findings; ``existing`` are the (index, id) pairs already written (a resumed scan skips
    them, so a page written just before an interruption is never listed twice)."""

    def __init__(self, path: Path, fmt: str) -> None:
        if fmt not in ("jsonl", "csv"):
            raise ValueError(f"format must be jsonl or csv, not {fmt!r}")
        self.path, self.fmt = path, fmt
        self.existing: set[tuple[str, str]] = set(read_findings(path, fmt)) if path.exists() else set()
        new = not path.exists() or path.stat().st_size == 0
        self._fh: TextIO = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115 -- closed in close()
        self._csv = csv.DictWriter(self._fh, FIELDS) if fmt == "csv" else None
        if self._csv is not None and new:
            self._csv.writeheader()

    def write(self, findings: Iterable[Finding]) -> list[Finding]:
        """Append the findings not written before; returns those."""
        written: list[Finding] = []
        for finding in findings:
            key = (finding.index, finding.id)
            if key in self.existing:
                continue
            self.existing.add(key)
            if self._csv is not None:
                self._csv.writerow(asdict(finding))
            else:
                self._fh.write(json.dumps(asdict(finding), ensure_ascii=False) + "\n")
            written.append(finding)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        return written

    def close(self) -> None:
        self._fh.close()


def read_findings(path: Path, fmt: str) -> dict[tuple[str, str], Finding]:
    out: dict[tuple[str, str], Finding] = {}
    text = path.read_text("utf-8")
    if fmt == "csv":
        rows: Iterable[dict[str, Any]] = csv.DictReader(io.StringIO(text))
    else:
        rows = (json.loads(line) for line in text.splitlines() if line.strip())
    for row in rows:
        try:
            finding = Finding(**{k: str(row[k]) for k in FIELDS})
        except (KeyError, TypeError):
            continue  # a line cut by the interruption: its document is screened again
        out[(finding.index, finding.id)] = finding
    return out


def write_json_atomic(path: Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(value, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def delete_requests(backend: str, findings: Iterable[Finding], *, chunk: int = 1000) -> list[dict[str, Any]]:
    """Requests an operator can review and then run to delete the listed documents (the scan never runs
    them): per index, chunks of ids in the backend's own delete-by-ids / delete-by-query form."""
    by_index: dict[str, list[str]] = {}
    for finding in findings:
        by_index.setdefault(finding.index, []).append(finding.id)
    out: list[dict[str, Any]] = []
    for index, ids in sorted(by_index.items()):
        for at in range(0, len(ids), chunk):
            part = sorted(ids[at:at + chunk])
            if backend in ("elasticsearch", "opensearch", "jsonl", "demo"):
                out.append({"method": "POST", "path": f"/{index}/_delete_by_query",
                            "body": {"query": {"ids": {"values": part}}}})
            elif backend == "solr":
                out.append({"method": "POST", "path": f"/solr/{index}/update?commit=true", "body": {"delete": part}})
            elif backend == "meilisearch":
                out.append({"method": "POST", "path": f"/indexes/{index}/documents/delete-batch", "body": part})
            elif backend == "typesense":
                ids_filter = ",".join(f"`{i}`" for i in part)
                out.append({"method": "DELETE", "path": f"/collections/{index}/documents",
                            "params": {"filter_by": f"id:[{ids_filter}]"}})
            else:
                raise ValueError(f"no delete request form for {backend!r}")
    return out
