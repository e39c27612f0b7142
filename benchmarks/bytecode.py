"""Byte-compile halpe_eval before timing whole processes, as ``pip install`` does.

An installed package ships its ``.pyc`` files; a checkout run with
``PYTHONDONTWRITEBYTECODE`` set (as some CI images and containers do) would
otherwise compile every module from source on each start, ~30 ms that no user
pays.  The peers are installed wheels and always start compiled.
"""
import compileall
import importlib.util
from pathlib import Path


def byte_compile() -> None:
    """Write the .pyc files of the halpe_eval that ``python -m halpe_eval`` imports (quietly; a no-op when
    they are up to date or the directory is read-only)."""
    spec = importlib.util.find_spec("halpe_eval")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(Path(spec.origin).parent, quiet=2)
