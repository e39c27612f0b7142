"""The GitHub Action's step (``action.yml`` at the top of the repository runs ``python -m halpe_eval.action``):
its inputs, passed as ``HALPE_EVAL_*`` environment variables, become one halpe-eval command; the markdown
table and the gates' outcome are appended to the job summary (the file ``GITHUB_STEP_SUMMARY`` names) and
printed; the step exits with the command's status (0 passed, 1 a gate failed, 2 usage or input error).

List inputs (predictions, thresholds, max-drops, names) are split as a shell splits words (newlines
or spaces, quotes kept); a prediction item with ``*``, ``?`` or ``[`` is a glob, expanded in name order.
"""
from __future__ import annotations

import glob
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping

PREFIX = "HALPE_EVAL_"
INPUTS = ("GT", "PREDICTIONS", "BASELINE", "THRESHOLDS", "MAX_DROPS", "BOOTSTRAP", "NAMES", "PROTOCOL", "JSON",
          "ARGS")  # action.yml maps each input to PREFIX + one of these
TITLE = "### halpe-eval"


def command(env: Mapping[str, str]) -> list[str]:
    """The halpe-eval arguments the inputs ask for (the baseline first: comparing, it is never gated)."""
    def words(name: str) -> list[str]:
        try:
            return shlex.split(env.get(PREFIX + name, ""))
        except ValueError as exc:  # shlex: "No closing quotation", "No escaped character"
            raise ValueError(f"input '{name.lower().replace('_', '-')}': {exc}; quote each path or spec as a "
                             "shell would") from None

    gt = env.get(PREFIX + "GT", "").strip()
    predictions = [path for item in words("BASELINE") + words("PREDICTIONS") for path in _expanded(item)]
    if not gt or not predictions:
        raise ValueError("the inputs gt and predictions are required")
    args = [gt, *predictions, "--format", "markdown"]
    args += [a for spec in words("THRESHOLDS") for a in ("--fail-under", spec)]
    args += [a for spec in words("MAX_DROPS") for a in ("--max-drop", spec)]
    args += [a for name in words("NAMES") for a in ("--name", name)]
    for option, name in (("--bootstrap", "BOOTSTRAP"), ("--protocol", "PROTOCOL"), ("--output", "JSON")):
        value = env.get(PREFIX + name, "").strip()
        if value and value != "0":
            args += [option, value]
    return args + words("ARGS")


def _expanded(item: str) -> list[str]:
    """A glob's matches in name order (the item itself when it matches nothing: halpe-eval names it)."""
    if not any(c in item for c in "*?["):
        return [item]
    return sorted(glob.glob(item)) or [item]


def summary(markdown: str, stderr: str, status: int) -> str:
    """The job summary's section: the table, then what the gates said (each FAIL line, or an error)."""
    problems = [line for line in stderr.splitlines() if line.startswith(("FAIL ", "halpe-eval: error",
                                                                        "halpe-eval: usage error",
                                                                        "halpe-eval: internal error"))]
    verdict = {0: "All gates passed.", 1: "A gate failed:"}.get(status, "halpe-eval could not score:")
    lines = [TITLE, "", markdown.rstrip("\n"), "", f"**{verdict}**"] if markdown.strip() else \
        [TITLE, "", f"**{verdict}**"]
    if problems:
        lines += [""] + [f"- `{line}`" for line in problems]
    return "\n".join(lines) + "\n"


def main(env: Mapping[str, str] = os.environ) -> int:
    try:
        args = command(env)
    except ValueError as exc:
        print(f"halpe-eval action: {exc}", file=sys.stderr)
        return 2
    print("halpe-eval " + shlex.join(args), file=sys.stderr)
    done = subprocess.run([sys.executable, "-m", "halpe_eval", *args], capture_output=True, text=True,
                          encoding="utf-8")
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    section = summary(done.stdout, done.stderr, done.returncode)
    summary_file = env.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as f:
            f.write(section)
    return done.returncode


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
