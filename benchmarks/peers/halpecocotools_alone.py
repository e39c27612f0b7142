"""halpecocotools on its own, as a user runs it: json.load both files, evaluate, summarize.

python benchmarks/peers/halpecocotools_alone.py GT.json PRED.json

Only the shims halpe-eval's oracle room applies (halpe_eval.oracles.shims: np.float, tkinter, matplotlib,
unicode) are added; no validation, no bug fixes. Prints the wholebody AP.
"""
import json
import sys

from halpe_eval.oracles import run_oracle
from halpe_eval.protocol import load_protocol

if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        gt = json.load(f)
    with open(sys.argv[2]) as f:
        preds = json.load(f)
    print(json.dumps({"wholebody_AP": float(run_oracle(load_protocol("halpe136"), gt, preds)["wholebody"][2][0])}))
