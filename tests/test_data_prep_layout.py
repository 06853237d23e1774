"""data_prep's layout: small modules, and no test-only code or dependency in the runtime package."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "data_prep").rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_data_prep_module_stays_under_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400


def test_the_runtime_package_neither_imports_nor_depends_on_the_test_server():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is Python 3.11+")
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [dep.split(">")[0].split("=")[0].strip() for dep in project["dependencies"]]
    assert "aiohttp" not in runtime
    assert any(dep.startswith("aiohttp") for dep in project["optional-dependencies"]["test"])
    assert not [path for path in MODULES if "aiohttp" in path.read_text(encoding="utf-8")]
    assert not (ROOT / "data_prep" / "fake_server.py").exists()


def test_the_cli_refuses_the_old_source_name_naming_the_new_one(capsys):
    from data_prep.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["rl", "--source", "gsm_symbolic", "--out-dir", "unused"])
    assert exit_info.value.code == 2
    assert "renamed: use reasoning_gym_gsm" in capsys.readouterr().err
