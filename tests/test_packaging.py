"""The built wheel carries every module and the protocol files.

Built from a copy of the tracked files only: an editable install, or the ``*.egg-info`` an
earlier build leaves in the checkout, would hide a file the package data rules miss.
"""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_holds_every_module_and_protocol_file(tmp_path):
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    source = tmp_path / "source"
    for name in tracked.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("halpe_eval-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {p.relative_to(source).as_posix() for p in (source / "halpe_eval").rglob("*")
                if p.suffix in (".py", ".json")}
    assert expected <= names, sorted(expected - names)
    assert any(name.startswith("halpe_eval/protocols/") and name.endswith(".json") for name in names)
