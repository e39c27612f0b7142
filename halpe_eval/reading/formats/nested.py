"""Keypoints spread over per-part fields, as COCO-WholeBody writes them.

``{"keypoints": [51 numbers], "foot_kpts": [18], "face_kpts": [204], "lefthand_kpts": [63], ...}``:
the protocol's ``nested_fields`` name the fields and their keypoint counts, in
skeleton order.  A record carrying any part field (beyond the first) is read
this way, and then needs every field at its length.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocol import Protocol
from . import FieldLayout, KeypointField, MissingField, RecordFormat, RecordShape


def _claims(shape: RecordShape, protocol: Protocol) -> bool:
    return bool(protocol.nested_fields) and any(f in shape.fields for f, _ in protocol.nested_fields[1:])


def _keypoints(record: Mapping[str, Any], protocol: Protocol) -> KeypointField:
    flat = []
    for field, count in protocol.nested_fields:
        values = record.get(field)
        if not (isinstance(values, list) and len(values) == 3 * count):
            return MissingField(field)
        flat.extend(values)
    return flat


def _fields(protocol: Protocol) -> FieldLayout:
    return protocol.nested_fields


FORMAT = RecordFormat(key="nested", label="COCO-WholeBody results (nested fields)", priority=10,
                      claims=_claims, keypoints=_keypoints, fields=_fields)
