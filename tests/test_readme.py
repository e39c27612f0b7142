"""Every ```python block of README.md runs, from the repository root, on the bundled fixtures.

The blocks of one ``##`` section run in order in one namespace, as a reader follows them; each
section starts afresh.
"""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")


def python_sections(text: str) -> list:
    """(section title, [(first line number, source), ...]) for each ``##`` section with ```python blocks."""
    sections = []
    title, blocks = "", []
    language, first_line, lines = None, 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if language is None and fence is None and line.startswith("## "):
            if blocks:
                sections.append((title, blocks))
            title, blocks = line[3:].strip(), []
        elif fence is None:
            if language is not None:
                lines.append(line)
        elif language is None:
            language, first_line, lines = fence.group(1), number + 1, []
        else:
            if language == "python":
                blocks.append((first_line, "\n".join(lines) + "\n"))
            language = None
    if blocks:
        sections.append((title, blocks))
    return sections


README_SECTIONS = python_sections(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks():
    assert README_SECTIONS, "README.md has no ```python block"


def test_block_extraction_keeps_line_numbers_sections_and_skips_other_languages():
    text = ("## A\n```bash\necho hi\n```\n```python\nx = 1\n\ny = 2\n```\n```text\nz\n```\n"
            "## B\n```python\n# ## not a title\n```\n")
    assert python_sections(text) == [("A", [(6, "x = 1\n\ny = 2\n")]), ("B", [(15, "# ## not a title\n")])]


@pytest.mark.parametrize(("title", "blocks"), README_SECTIONS, ids=[title for title, _ in README_SECTIONS])
def test_readme_python_blocks_run(title, blocks, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": f"readme_{title}"}
    for first_line, source in blocks:
        # Padding with blank lines makes traceback line numbers those of README.md.
        code = compile("\n" * (first_line - 1) + source, str(README), "exec")
        try:
            exec(code, namespace)
        except Exception as exc:  # any failure of the example fails the test, naming the block
            pytest.fail(f"README.md python block at line {first_line} ({title}) raised {type(exc).__name__}: {exc}")
