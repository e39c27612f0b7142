"""Importing this module installs the drop-in for xtcocotools: for an mmpose config's ``custom_imports``.

``custom_imports = dict(imports=["halpe_eval.compat.mmpose"], allow_failed_imports=False)`` makes
mmengine import it while it reads the config, before the runner imports mmpose's metrics, whose
``from xtcocotools.cocoeval import COCOeval`` then gives halpe-eval's (see README, "Use inside
training").
"""
from __future__ import annotations

from . import install

install("xtcocotools")
