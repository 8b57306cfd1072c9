"""One filtering proxy (FilterMiddleware + ReverseProxy, as `filter-proxy serve` builds them, without the
ops wrapper) on uvicorn + uvloop + httptools with a chosen forward-hop client, for the side-by-side
comparison of hop clients in benchmarks/peers.py:

- ``httptools``: the lean client of filter_proxy/forward_lean.py (httptools parser, keep-alive pool);
- ``aiohttp``: aiohttp's ``ClientSession`` (filter_proxy/forward.py);
- ``httpx``: ``httpx.AsyncClient`` tuned (HTTP/1.1 only, keep-alive pool sized for the load, no env proxy);
- ``httpx-aiohttp``: httpx's API on the ``httpx-aiohttp`` transport (aiohttp underneath).

``python -m benchmarks.peers_hop --hop NAME --upstream URL --rules BUNDLE --port N``
"""

from __future__ import annotations

import argparse
from typing import Any

HOPS = ("httptools", "aiohttp", "httpx", "httpx-aiohttp")


def build(hop: str, upstream: str, bundle: str) -> Any:
    import httpx

    from benchmarks.subjects import load_rules
    from filter_proxy.proxy import DEFAULT_LIMITS, DEFAULT_TIMEOUT, create_proxy_app

    rules = load_rules(bundle)
    client = None
    if hop == "httpx":
        client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS, trust_env=False,
                                   follow_redirects=False, http1=True, http2=False)
    elif hop == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=DEFAULT_LIMITS, trust_env=False)
        client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, transport=transport, trust_env=False,
                                   follow_redirects=False)
    if client is not None:
        return create_proxy_app(upstream, rules, "searxng", client=client)
    return create_proxy_app(upstream, rules, "searxng", hop=hop)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hop", choices=HOPS, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = build(args.hop, args.upstream, args.rules)
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools", access_log=False,
                log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
