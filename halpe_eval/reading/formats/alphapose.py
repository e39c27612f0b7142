"""AlphaPose's result file: COCO results whose ``image_id`` is the image's file name.

The name is matched to ``images[].file_name`` with or without directory and
extension (:mod:`halpe_eval.reading.image_ids`); scores may exceed 1 and extra
fields (``box``, ``idx``) are ignored.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...protocol import Protocol
from . import FieldLayout, KeypointField, RecordFormat, RecordShape


def _claims(shape: RecordShape, protocol: Protocol) -> bool:
    return shape.image_id_type is str


def _keypoints(record: Mapping[str, Any], protocol: Protocol) -> KeypointField:
    return record.get("keypoints")


def _fields(protocol: Protocol) -> FieldLayout:
    return (("keypoints", protocol.num_keypoints),)


FORMAT = RecordFormat(key="alphapose", label="AlphaPose results (image_id by file name)", priority=50,
                      claims=_claims, keypoints=_keypoints, fields=_fields)
