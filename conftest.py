"""pytest at the repository root, for the doctests that pyproject's ``testpaths`` collect from
the four packages.

The packages are imported here, before collection: pytest's ``importlib`` import mode loads a
module collected for its doctests under its own name only if that module is not loaded yet, and
could otherwise hold a second copy of it, whose classes differ from the ones the package uses
(an ``except UserError`` in a doctest would then miss a ``ProgramError``).
"""

import discover  # noqa: F401
import primitives  # noqa: F401
import search  # noqa: F401
import tasks  # noqa: F401
