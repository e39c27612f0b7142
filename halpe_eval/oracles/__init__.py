"""The oracle room: everything that runs the official evaluators lives here.

halpecocotools (Halpe-136), xtcocotools (COCO-WholeBody, one run per part) and
pycocotools (COCO-17) score the same inputs as the native engine, for
``--backend reference`` and for the parity tests.  A protocol names its oracle
(``reference``) and the oracle's name for each of its parts (``reference_parts``);
:mod:`.adapters` holds one entry per oracle (what to import, how to run it, how to
read its per-part results) and this module is the one driver for all of them.

While an oracle runs, :func:`.shims.oracle_shims` gives it what halpecocotools 0.0.1
needs on a modern stack, where it does not run as published: ``np.float`` restored,
stub ``tkinter`` / ``matplotlib`` modules when those are missing (imported, never used
for scoring), ``unicode = str``; its printing is captured and Python warnings are
silenced.

:func:`run_oracle` (in :mod:`.driver`, like everything that runs an oracle) is the raw oracle as
published, bugs included.
:func:`evaluate_reference` validates the inputs like the native backend, then feeds
the oracle inputs transformed so that its documented bugs and gaps cannot bite:

- crowd GT marked ``ignore`` when the protocol ignores crowds (halpecocotools forgets to);
- annotation ids renumbered from 1 (cocoeval stores matched GT ids and reads 0, or in
  xtcocotools any negative id, as "unmatched");
- a missing ``iscrowd`` set to 0 and, where the protocol reads it, a missing
  ``num_keypoints`` set to the labelled count (the oracles raise KeyError without them);
- AlphaPose file-name image ids replaced by the GT's ids;
- null part scores dropped (absent to the native engine; xtcocotools would negate None).

It refuses protocol files that differ from the built-in protocol (an oracle has its own
sigmas and conventions) and returns an :class:`EvalResult`.  Anything else the oracle
raises becomes one :class:`InputError` line.

The package itself imports nothing: a protocol checks its ``reference`` against
:data:`.adapters.ORACLE_NAMES` on every run, and a plain run never needs the driver.
"""
from importlib import import_module
from typing import Any

_DRIVER_NAMES = ("evaluate_reference", "nest", "prepare_gt", "prepare_predictions", "run_oracle")


def __getattr__(name: str) -> Any:
    """The driver's public names, imported on first use."""
    if name not in _DRIVER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(".driver", __name__), name)


__all__ = list(_DRIVER_NAMES)
