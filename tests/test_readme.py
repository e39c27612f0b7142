"""Every ```python block of README.md runs, from the repository root, on the bundled fixtures."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")


def python_blocks(text: str) -> list:
    """(first line number, source) of each fenced block tagged ``python``; lines counted from 1."""
    blocks = []
    language, first_line, lines = None, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if fence is None:
            if language is not None:
                lines.append(line)
        elif language is None:
            language, first_line, lines = fence.group(1), number + 1, []
        else:
            if language == "python":
                blocks.append((first_line, "\n".join(lines) + "\n"))
            language = None
    return blocks


README_BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks():
    assert README_BLOCKS, "README.md has no ```python block"


def test_block_extraction_keeps_line_numbers_and_skips_other_languages():
    text = "intro\n```bash\necho hi\n```\n```python\nx = 1\n\ny = 2\n```\n```text\nz\n```\n"
    assert python_blocks(text) == [(6, "x = 1\n\ny = 2\n")]


@pytest.mark.parametrize(("first_line", "source"), README_BLOCKS, ids=[f"line{n}" for n, _ in README_BLOCKS])
def test_readme_python_block_runs(first_line, source, monkeypatch):
    monkeypatch.chdir(ROOT)
    # Padding with blank lines makes traceback line numbers those of README.md.
    code = compile("\n" * (first_line - 1) + source, str(README), "exec")
    try:
        exec(code, {"__name__": f"readme_line_{first_line}"})
    except Exception as exc:  # any failure of the example fails the test, naming the block
        pytest.fail(f"README.md python block at line {first_line} raised {type(exc).__name__}: {exc}")
