"""What an official evaluator needs from a modern Python stack, applied only while it runs.

halpecocotools 0.0.1 does not run on a modern stack as published; :func:`oracle_shims`
makes it (and the other oracles, which need none of it) run unchanged, and keeps
every oracle quiet:

- ``np.float`` (removed in numpy 1.24) is restored;
- ``from tkinter import _flatten`` inside its ``computeOks`` gets a stub module when
  this Python has no tkinter (the name is imported and never used);
- ``import matplotlib.pyplot`` and friends at the top of its ``coco.py`` (used only to
  draw) get stub modules when matplotlib is not installed;
- its ``loadRes`` tests ``type(x) == unicode``, a NameError on Python 3, so ``unicode``
  is a builtin name for ``str``;
- progress printing goes to a discarded buffer, not our stdout, and Python warnings
  (xtcocotools' divisions by zero on empty parts) are silenced.

Everything is undone on exit: stub modules leave ``sys.modules`` (an oracle imported
under them keeps its reference), the added names are deleted.
"""
from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import sys
import types
import warnings
from collections.abc import Iterator

import numpy as np

# Modules an oracle imports but never uses for scoring, and the names it takes from them.
STUB_MODULES = {
    "tkinter": ("_flatten",),
    "matplotlib": (),
    "matplotlib.pyplot": (),
    "matplotlib.collections": ("PatchCollection",),
    "matplotlib.patches": ("Polygon",),
}


@contextlib.contextmanager
def oracle_shims() -> Iterator[None]:
    """Run an official evaluator (import, evaluate, summarize) inside this: see the module docstring."""
    with contextlib.ExitStack() as undo:
        undo.enter_context(_added_attribute(np, "float", float))
        undo.enter_context(_added_attribute(builtins, "unicode", str))
        undo.enter_context(_stub_modules())
        undo.enter_context(contextlib.redirect_stdout(io.StringIO()))
        undo.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def _added_attribute(owner: object, name: str, value: object) -> Iterator[None]:
    """``owner.name = value`` while inside, unless ``owner`` already has the name."""
    added = not hasattr(owner, name)
    if added:
        setattr(owner, name, value)
    try:
        yield
    finally:
        if added:
            delattr(owner, name)


@contextlib.contextmanager
def _stub_modules() -> Iterator[None]:
    """An empty module, with ``None`` for the names taken from it, for each unimportable ``STUB_MODULES`` entry."""
    stubbed: list[str] = []
    for name, attributes in STUB_MODULES.items():
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            for attribute in attributes:
                setattr(stub, attribute, None)
            sys.modules[name] = stub
            stubbed.append(name)
    for name in stubbed:  # `import a.b as c` reads b from a
        parent, _, child = name.rpartition(".")
        if parent in stubbed:
            setattr(sys.modules[parent], child, sys.modules[name])
    try:
        yield
    finally:
        for name in stubbed:
            del sys.modules[name]
