"""filter-proxy benchmark suites: speed, scale and quality, measured against the DESIGN §8 targets.

Run ``python -m benchmarks [speed|scale|quality] [--quick] [--out benchmarks/results]``.
"""
