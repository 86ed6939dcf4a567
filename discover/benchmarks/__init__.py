"""Performance benchmarks that print figures (not tests): ``discover bench step-time`` and
``discover bench throughput``. The experiments behind the README's result tables are scripts in
``experiments/`` (rediscovery, learned rules).
"""

__all__ = ["step_time", "throughput"]
