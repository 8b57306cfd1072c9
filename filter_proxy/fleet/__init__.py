"""Many filter instances behind a load balancer, on existing, trusted parts (DESIGN §9, docs/DEPLOY.md).

- ``publisher`` / ``subscriber`` / ``heartbeat`` / ``status``: rule rollout through Redis. A publish stores
  the bundle (or its URL and checksum) and announces its version on a channel; every worker of every
  instance fetches, verifies, loads and swaps it, and records its version with a heartbeat (TTL).
- ``hash_cache``: the shared Redis tier of the thumbnail-hash cache.
- ``state`` (one worker's view, for /-/ready), ``identity`` (instance and worker names), ``metrics``,
  ``aio`` (bounded clean-up).
- ``service``: wires these into one served app (``build_app``): ``FleetRollout`` and, with
  ``publish_on_reload``, ``FleetCoordinator`` (ops' ReloadCoordinator that publishes).

Redis being unreachable never stops serving: an instance keeps its last good rules (fail static), retries
with backoff, reports itself degraded and catches up when Redis returns.
"""
