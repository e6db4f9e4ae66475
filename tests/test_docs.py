"""The documentation stays true: README's test command is what CI runs, and doc examples execute."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import zoo

REPO = Path(__file__).resolve().parents[1]


def _python_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / name).read_text(encoding="utf-8"), flags=re.DOTALL)


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- test-command -->\n```bash\n(.+?)\n```", readme)
    assert match, "README.md must mark its test command with <!-- test-command -->"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert match.group(1) in ci.splitlines()


def test_writing_a_plugin_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    module = type(zoo)("docs_plugin_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # the example registers its own module
    try:
        for block in _python_blocks("writing-a-plugin.md"):
            exec(compile(block, "docs/writing-a-plugin.md", "exec"), module.__dict__)
    finally:
        zoo.unregister_plugin("acme")
    assert (tmp_path / "runs" / "acme-trained" / "model.safetensors").is_file()
    assert (tmp_path / "runs" / "acme-density" / "model.safetensors").is_file()  # a new family, trained


def test_data_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _python_blocks("data.md")
    assert blocks, "docs/data.md lost its example"
    for block in blocks:
        exec(compile(block, "docs/data.md", "exec"), {})
    assert (tmp_path / "digits-chosen.npz").is_file()
