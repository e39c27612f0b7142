"""``--format json`` (and ``--output``): the JSON document, indented; NaN or infinity is an error, not JSON."""
from __future__ import annotations

import json

from .builders import json_document
from .model import Report


def write(report: Report, colour: bool = False) -> str:
    return json.dumps(json_document(report), indent=2, allow_nan=False)
