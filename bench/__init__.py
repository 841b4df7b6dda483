"""Folio's benchmarks: each measures the service against a baseline taken in the same run.

``python -m bench`` (or ``make bench``) runs them all and writes ``bench/results.json``;
``python -m bench pipeline latency`` runs a selection. See docs/performance.md.
"""
