"""Part B of the catalogue (``docs/catalogue_reductions.md``): rules built on per-tensor or
group-wide reductions (norms, inner products, trust ratios) or on the loss value (Polyak-type
step sizes, parameter-free distance estimates).

One module per family, each with an ``ENTRIES`` tuple; :mod:`discover.library` imports them by
name and registers them (nothing is registered by importing this package).
"""

__all__: list[str] = []
