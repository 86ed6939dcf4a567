"""Where runs, caches and reports are written: one root for every command.

``$DISCOVER_OUTPUTS`` when set, else ``./outputs``. It lives in ``search`` (the lowest layer that
writes runs) so that the search, the meta-training and the ``discover`` commands agree on it;
``discover.paths`` re-exports it.

>>> import os
>>> saved = os.environ.pop("DISCOVER_OUTPUTS", None)
>>> str(outputs_dir() / "search-1")
'outputs/search-1'
>>> os.environ["DISCOVER_OUTPUTS"] = "/tmp/runs"
>>> str(outputs_dir() / "search-1")
'/tmp/runs/search-1'
>>> _ = os.environ.pop("DISCOVER_OUTPUTS")
>>> if saved is not None:
...     os.environ["DISCOVER_OUTPUTS"] = saved
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["outputs_dir"]


def outputs_dir() -> Path:
    """The outputs root: ``$DISCOVER_OUTPUTS`` or ``./outputs`` (read at each call)."""
    return Path(os.environ.get("DISCOVER_OUTPUTS", "outputs"))
