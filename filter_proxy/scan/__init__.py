"""``filter-proxy scan``: screening at the source. Walk every document of a backend (or an NDJSON file)
through the same adapters and the same screening as the proxy, and list the documents that match (id,
index, category, signal, rule id; never the text). Read-only: it never writes to the backend."""
