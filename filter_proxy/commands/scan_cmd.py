"""``filter-proxy scan``: list the documents of a backend (or an NDJSON file, or the demo corpus) that the
rules match, through the same adapters and screening as the proxy. Read-only; resumable."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from filter_proxy.errors import RulesError

BACKENDS = ("demo", "jsonl", "elasticsearch", "opensearch", "solr", "meilisearch", "typesense")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("scan", help="list the documents of a backend's index that the rules match "
                              "(id, index, category, signal, rule id; never the text)")
    p.add_argument("backend", choices=BACKENDS, help="what to read: a backend shape, an NDJSON file, or the demo")
    p.add_argument("--url", help="backend base URL (e.g. http://127.0.0.1:9200)")
    p.add_argument("--index", default="", help="index / core / collection name")
    p.add_argument("--file", type=Path, help="the NDJSON/JSONL file (backend jsonl)")
    p.add_argument("--rules", type=Path, default=Path("rules"), help="rules directory or bundle (default: rules)")
    p.add_argument("--out", type=Path, required=True, help="findings file (appended; resumed scans skip what it holds)")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("--checkpoint", type=Path, help="checkpoint file (default: <out>.checkpoint)")
    p.add_argument("--summary", type=Path, help="write the summary as JSON here too")
    p.add_argument("--batch", type=int, default=500, help="documents per page (default 500)")
    p.add_argument("--rate", type=float, default=0.0, help="at most this many documents per second (default: no limit)")
    p.add_argument("--id-field", default="id", help="document id field (jsonl, meilisearch) or Solr unique key")
    p.add_argument("--api-key-env", help="name of the environment variable holding the backend's API key")
    p.add_argument("--thumbnails", action="store_true",
                   help="also screen thumbnails: fetched and hashed by the image screener")
    p.add_argument("--precomputed", action="store_true",
                   help="demo only: match the thumbnail hashes the backend supplies instead of fetching")
    p.add_argument("--delete-requests", type=Path,
                   help="write delete-by-ids requests for the matching documents here, for review (never run)")
    p.add_argument("--no-progress", action="store_true", help="no progress display even on a terminal")
    p.set_defaults(func=scan_command)


def _source(args: Any) -> Any:
    from filter_proxy.scan import sources

    if args.backend == "demo":
        return sources.DemoSource(batch=min(args.batch, 100), hashes=getattr(args, "precomputed", False))
    if args.backend == "jsonl":
        if args.file is None:
            raise SystemExit("scan jsonl: --file is required")
        return sources.JsonlSource(args.file, index=args.index, id_field=args.id_field, batch=args.batch)
    if not args.url or not args.index:
        raise SystemExit(f"scan {args.backend}: --url and --index are required")
    headers: dict[str, str] = {}
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise SystemExit(f"scan: environment variable {args.api_key_env} is not set")
        headers = ({"X-TYPESENSE-API-KEY": key} if args.backend == "typesense" else
                   {"Authorization": f"Bearer {key}" if args.backend == "meilisearch" else f"ApiKey {key}"})
    kw: dict[str, Any] = {"batch": args.batch, "headers": headers}
    if args.backend in ("elasticsearch", "opensearch"):
        return sources.ElasticsearchSource(args.url, args.index, flavor=args.backend, **kw)
    if args.backend == "solr":
        return sources.SolrSource(args.url, args.index, unique_key=args.id_field, **kw)
    if args.backend == "meilisearch":
        return sources.MeilisearchSource(args.url, args.index, id_field=args.id_field, **kw)
    return sources.TypesenseSource(args.url, args.index, **kw)


def demo_screener(rules: Any) -> Any:
    """The image screener, fetching the demo backend's thumbnails in process (ASGI transport: no socket),
    allowed onto the loopback address the demo's thumbnail URLs name."""
    import httpx

    from filter_proxy.demo.app import LOOPBACK_NETWORKS
    from filter_proxy.demo.backend import create_backend
    from filter_proxy.images_screen import ImageScreener

    policy = rules.policy.images
    allowed = tuple(dict.fromkeys((*policy.allow_networks, *LOOPBACK_NETWORKS)))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_backend()), follow_redirects=False)
    return ImageScreener(dataclasses.replace(policy, allow_networks=allowed), client=client)


def run_scan(args: Any, *, stop_after_pages: int | None = None, image_screener: Any = None) -> dict[str, Any]:
    """The scan as the command runs it; returns the summary (tests call it directly)."""
    from filter_proxy.rules import load_rules
    from filter_proxy.scan.core import Checkpoint, Scanner
    from filter_proxy.scan.output import FindingWriter, delete_requests, read_findings, write_json_atomic

    rules = load_rules(args.rules)
    source = _source(args)
    fields = None
    if args.backend == "demo" and getattr(args, "precomputed", False):
        from filter_proxy.adapters.searxng import SEARXNG_FIELDS
        from filter_proxy.demo.backend import HASH_FIELDS

        fields = dataclasses.replace(SEARXNG_FIELDS, image_hash=HASH_FIELDS)
    elif args.backend == "demo" and args.thumbnails and image_screener is None:
        image_screener = demo_screener(rules)
    elif args.thumbnails and image_screener is None:
        from filter_proxy.images_screen import ImageScreener

        image_screener = ImageScreener(rules.policy.images)
    identity = f"{args.backend}:{args.url or args.file or ''}:{args.index}"
    checkpoint = Checkpoint(args.checkpoint or args.out.with_name(args.out.name + ".checkpoint"), identity,
                            str(rules.version))
    writer = FindingWriter(args.out, args.format)
    try:
        scanner = Scanner(source, rules, writer, checkpoint=checkpoint, fields=fields, rate=args.rate,
                          image_screener=image_screener, progress=False if args.no_progress else None,
                          stop_after_pages=stop_after_pages)
        summary = asyncio.run(scanner.run()).as_dict()
    finally:
        writer.close()
    findings = read_findings(args.out, args.format)
    summary["findings_total"] = len(findings)
    if args.delete_requests is not None:
        write_json_atomic(args.delete_requests, delete_requests(args.backend, findings.values()))
    if args.summary is not None:
        write_json_atomic(args.summary, summary)
    return summary


def scan_command(args: Any) -> int:
    try:
        summary = run_scan(args)
    except (RulesError, ValueError, RuntimeError, OSError) as exc:
        print(f"filter-proxy scan: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("filter-proxy scan: interrupted; run the same command again to resume from the checkpoint",
              file=sys.stderr)
        return 130
    print(json.dumps(summary, indent=1))
    return 0 if summary.get("complete") else 1
