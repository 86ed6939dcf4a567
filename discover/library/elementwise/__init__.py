"""Part A of the catalogue (``docs/catalogue_elementwise.md``): rules whose update of each
coordinate reads only that coordinate's gradient, weight and state (plus, for a few, a
per-tensor or group statistic that scales the whole step).

One module per family, each with an ``ENTRIES`` tuple; :mod:`discover.library` imports them by
name and registers them (nothing is registered by importing this package).
"""

__all__: list[str] = []
