"""Benchmarks that print figures (not tests): ``discover bench step-time``, ``discover bench
throughput`` and ``discover bench calibrate`` (which tasks make adaptivity necessary). The
experiments behind the README's result tables are scripts in ``experiments/`` (rediscovery,
learned rules).
"""

__all__ = ["calibrate", "step_time", "throughput"]
