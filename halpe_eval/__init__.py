"""halpe-eval: exact, fast COCO-style OKS AP/AR per part for whole-body pose (Halpe-136 and friends)."""
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .evaluate import evaluate
from .protocol import Protocol, builtin_names, load_protocol
from .reading.ground_truth import GroundTruth, load_ground_truth
from .reading.predictions import Predictions, load_predictions
from .results import EvalResult, PartResult

if TYPE_CHECKING:
    from .streaming import StreamingEvaluator

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``StreamingEvaluator`` is imported on first use: the command line never needs it."""
    if name == "StreamingEvaluator":
        from .streaming import StreamingEvaluator

        return StreamingEvaluator
    raise AttributeError(f"module 'halpe_eval' has no attribute {name!r}")

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
