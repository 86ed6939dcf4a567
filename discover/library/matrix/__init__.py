"""Part C of the catalogue (``docs/catalogue_matrix.md``): matrix, factored, second-order and
multi-pass rules (Newton-Schulz orthogonalisation, Kronecker and row/column statistics,
Hessian-diagonal estimates, low-rank projections).

One module per family, each with an ``ENTRIES`` tuple; :mod:`discover.library` imports them by
name and registers them (nothing is registered by importing this package).
"""

__all__: list[str] = []
