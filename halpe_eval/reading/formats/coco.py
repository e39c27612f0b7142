"""COCO results: ``{"image_id": 785, "category_id": 1, "keypoints": [x1, y1, s1, ...], "score": 0.9}``.

The fallback format: it claims every record no other format claims.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocol import Protocol
from . import FieldLayout, KeypointField, RecordFormat, RecordShape


def _claims(shape: RecordShape, protocol: Protocol) -> bool:
    return True


def _keypoints(record: Mapping[str, Any], protocol: Protocol) -> KeypointField:
    return record.get("keypoints")


def _fields(protocol: Protocol) -> FieldLayout:
    return (("keypoints", protocol.num_keypoints),)


FORMAT = RecordFormat(key="coco", label="COCO results", priority=100, claims=_claims, keypoints=_keypoints,
                      fields=_fields)
