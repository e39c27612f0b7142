"""Drop-in ``COCO`` / ``COCOeval`` for the official keypoint evaluators, on halpe-eval's engine.

``install("xtcocotools")`` (or ``"halpecocotools"``, ``"pycocotools"``) puts modules into
``sys.modules`` so that ``from xtcocotools.coco import COCO`` and ``from xtcocotools.cocoeval
import COCOeval`` give halpe-eval's classes: mmpose's and AlphaPose's evaluation code then runs
unchanged, with the same numbers, an order of magnitude faster.  Install before the framework
imports the library (modules that already imported it keep the real classes).  ``uninstall()``
puts back what was there; ``installed(...)`` does both around a block.

When the real library is importable its package stays (``xtcocotools.mask`` still works) and
only its ``coco`` and ``cocoeval`` modules are replaced; otherwise an empty package stands in.

What is scored, and how, comes from the protocol files (:mod:`.oracle_protocols`); the
classes are in :mod:`.coco`, :mod:`.cocoeval` and, one set per library, :mod:`.flavours`.
"""
from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator

from ..oracles.adapters import ADAPTERS
from .flavours import FLAVOURS
from .oracle_protocols import NotSupported

_ABSENT = object()
# flavour -> what install() replaced: sys.modules entries and package attributes, to put back
_replaced: dict[str, list[tuple[object, str, object]]] = {}


def modules(flavour: str) -> dict[str, types.ModuleType]:
    """The drop-in modules of ``flavour`` by import name (e.g. ``xtcocotools.coco``), not installed."""
    if flavour not in FLAVOURS:
        raise ValueError(f"no drop-in for {flavour!r}; choose one of {', '.join(sorted(FLAVOURS))}")
    coco_class, cocoeval_class, params_class = FLAVOURS[flavour]
    adapter = ADAPTERS[flavour]
    coco = types.ModuleType(adapter.coco_module, f"halpe-eval's drop-in for {adapter.coco_module}")
    coco.COCO = coco_class  # type: ignore[attr-defined]
    cocoeval = types.ModuleType(adapter.cocoeval_module, f"halpe-eval's drop-in for {adapter.cocoeval_module}")
    cocoeval.COCOeval = cocoeval_class  # type: ignore[attr-defined]
    cocoeval.Params = params_class  # type: ignore[attr-defined]
    return {adapter.coco_module: coco, adapter.cocoeval_module: cocoeval}


def install(flavour: str) -> None:
    """Make ``import <flavour>.coco`` / ``<flavour>.cocoeval`` give the drop-in (again: no change)."""
    if flavour in _replaced:
        return
    dropped_in = modules(flavour)
    undo: list[tuple[object, str, object]] = []
    package = _package(flavour, undo)
    for name, module in dropped_in.items():
        undo.append((sys.modules, name, sys.modules.get(name, _ABSENT)))
        sys.modules[name] = module
        child = name.rpartition(".")[2]
        undo.append((package, child, getattr(package, child, _ABSENT)))
        setattr(package, child, module)
    _replaced[flavour] = undo


def _package(flavour: str, undo: list[tuple[object, str, object]]) -> types.ModuleType:
    """The real top-level package when it imports, else an empty stand-in put into ``sys.modules``."""
    try:
        return importlib.import_module(flavour)
    except ImportError:
        stand_in = types.ModuleType(flavour, f"halpe-eval's stand-in for {flavour} (not installed)")
        stand_in.__path__ = []  # a package: its other submodules fail to import cleanly
        undo.append((sys.modules, flavour, sys.modules.get(flavour, _ABSENT)))
        sys.modules[flavour] = stand_in
        return stand_in


def uninstall(flavour: str | None = None) -> None:
    """Put back what ``install(flavour)`` replaced (None: every flavour installed)."""
    for name in [flavour] if flavour is not None else list(_replaced):
        for owner, key, previous in reversed(_replaced.pop(name, [])):
            _restore(owner, key, previous)


def _restore(owner: object, key: str, previous: object) -> None:
    if isinstance(owner, dict):
        if previous is _ABSENT:
            owner.pop(key, None)
        else:
            owner[key] = previous
    elif previous is _ABSENT:
        if hasattr(owner, key):
            delattr(owner, key)
    else:
        setattr(owner, key, previous)


@contextlib.contextmanager
def installed(flavour: str) -> Iterator[dict[str, types.ModuleType]]:
    """``install(flavour)`` for the block, then ``uninstall(flavour)`` unless it was installed before;
    yields the drop-in modules by import name."""
    before = flavour in _replaced
    install(flavour)
    try:
        yield {name: sys.modules[name] for name in (ADAPTERS[flavour].coco_module, ADAPTERS[flavour].cocoeval_module)}
    finally:
        if not before:
            uninstall(flavour)


__all__ = ["NotSupported", "install", "installed", "modules", "uninstall"]
