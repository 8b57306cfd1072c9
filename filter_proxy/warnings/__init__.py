"""Deterrence and support warnings: texts per kind and language, as a JSON ``safety`` object or an HTML page.

Texts live in ``rules/warnings/<lang>.toml`` (the format is documented at the top of ``en.toml``); the
language comes from the file name. ``texts`` holds the data, ``load`` reads and checks the files,
``catalog`` negotiates the language and renders, ``headers`` lists the security headers of every warning
response. Nothing here ever sees the user's query or the matching rule id.
"""

from filter_proxy.warnings.catalog import WarningCatalog, warn_page
from filter_proxy.warnings.headers import HTML_CSP, JSON_CSP, warning_headers
from filter_proxy.warnings.load import load_warnings, read_language
from filter_proxy.warnings.texts import (
    DEFAULT_LANGUAGE,
    HELPLINE_KEYS,
    KIND_KEYS,
    NEUTRAL,
    PAGE_DEFAULTS,
    PAGE_KEYS,
    PAGE_TABLE,
    Helpline,
    Link,
    ResultLink,
    WarningText,
    url_problem,
)

__all__ = [
    "DEFAULT_LANGUAGE", "HELPLINE_KEYS", "HTML_CSP", "JSON_CSP", "KIND_KEYS", "NEUTRAL", "PAGE_DEFAULTS",
    "PAGE_KEYS", "PAGE_TABLE", "Helpline", "Link", "ResultLink", "WarningCatalog", "WarningText",
    "load_warnings", "read_language", "url_problem", "warn_page", "warning_headers",
]
