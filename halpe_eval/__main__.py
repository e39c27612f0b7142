"""python -m halpe_eval: the command line (halpe_eval.launch, then halpe_eval.cli)."""
from .launch import run

run()
