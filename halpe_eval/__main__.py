"""python -m halpe_eval: the command line (halpe_eval.cli)."""
from .cli import run

run()
