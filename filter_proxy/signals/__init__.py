"""Signal types: one class per kind of listed content (terms, URLs, each image hash algorithm).

In the manner of python-threatexchange's ``SignalType``, each class owns its line parsing and validation,
canonicalisation or hashing, distance/threshold, its index (``build``, ``match``, ``to_bytes`` /
``from_bytes``) and its constants. ``filter_proxy.signals.registry`` (name -> class) is the one place the
rule loader, the bundle, the RuleSet and the image screener ask.

This package module imports nothing on purpose: ``signals.hashspec`` is a leaf that the hashing code in
``matchers/images.py`` imports, and an eager import of the registry here would make that a cycle.
"""
