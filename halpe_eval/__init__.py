"""halpe-eval: exact, fast COCO-style OKS AP/AR per part for whole-body pose (Halpe-136 and friends).

Every public name is imported on first use (PEP 562), so ``import halpe_eval`` costs
little more than the package itself; the command line imports only what a run needs.
"""
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import InputError
    from .pipeline import evaluate
    from .protocol import Protocol, builtin_names, load_protocol
    from .reading.ground_truth import GroundTruth, load_ground_truth
    from .reading.predictions import Predictions, load_predictions
    from .results import EvalResult, PartResult
    from .streaming import StreamingEvaluator

__version__ = "0.1.0"

_HOMES = {
    "EvalResult": ".results",
    "GroundTruth": ".reading.ground_truth",
    "InputError": ".errors",
    "PartResult": ".results",
    "Predictions": ".reading.predictions",
    "Protocol": ".protocol",
    "StreamingEvaluator": ".streaming",
    "builtin_names": ".protocol",
    "evaluate": ".pipeline",
    "load_ground_truth": ".reading.ground_truth",
    "load_predictions": ".reading.predictions",
    "load_protocol": ".protocol",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use and keep it."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'halpe_eval' has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(list(globals()) + list(_HOMES))


__all__ = [
    "EvalResult",
    "GroundTruth",
    "InputError",
    "PartResult",
    "Predictions",
    "Protocol",
    "StreamingEvaluator",
    "builtin_names",
    "evaluate",
    "load_ground_truth",
    "load_predictions",
    "load_protocol",
]
