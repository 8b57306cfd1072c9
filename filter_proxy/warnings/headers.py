"""The security headers of every warning response (page and JSON), in one place for both modes."""

from __future__ import annotations

# Headers of every warning response (the HTML page and the JSON body with a `safety` object), in both
# modes. The page URL and the body concern a search for abuse material: never cached, never framed,
# never sniffed into another type, never sent on as a referrer to the help sites it links to.
_COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
# The page is self-contained: inline styles only, no scripts, images, fonts, forms or frames.
HTML_CSP = (b"default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; "
            b"base-uri 'none'; frame-ancestors 'none'")
JSON_CSP = b"default-src 'none'; frame-ancestors 'none'"


def warning_headers(html: bool) -> list[tuple[bytes, bytes]]:
    """The security headers of a warning response (lower-case names, as ASGI wants them)."""
    return [(b"content-security-policy", HTML_CSP if html else JSON_CSP), *_COMMON_HEADERS]
