"""The layout's one rule: the core (``verl_ccrl/`` outside ``integration/``) imports without verl, vLLM, Ray or torch.

Each check runs in a fresh interpreter whose import system refuses those packages, and imports every core module,
found by walking the package directories, so a new module is fenced without being listed here.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKED = ("verl", "vllm", "ray", "torch")

# argv: package name, the directory that holds the package, the sub-package that may import anything.
FENCE = textwrap.dedent(
    """
    import importlib, importlib.abc, os, pkgutil, sys, traceback

    BLOCKED = {blocked!r}
    package, root, exempt = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path.insert(0, root)

    def importer():
        # The innermost module of the package on the stack: the one whose own import statement is refused.
        frame = sys._getframe(2)
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module == package or module.startswith(package + "."):
                return module
            frame = frame.f_back
        return "?"

    class Fence(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked package {{name!r}} imported by {{importer()}}")
            return None

    sys.meta_path.insert(0, Fence())

    def modules(directory, prefix):
        for info in pkgutil.iter_modules([directory], prefix):
            short = info.name.rsplit(".", 1)[-1]
            if info.name == exempt or short == "__main__":  # __main__ runs a CLI when imported
                continue
            yield info.name
            if info.ispkg:
                yield from modules(os.path.join(directory, short), info.name + ".")

    found = [package, *modules(os.path.join(root, package), package + ".")]
    reached = []
    for name in found:
        try:
            importlib.import_module(name)
        except ImportError as error:
            reached.append(f"{{name}}: {{error}}")
    print("imported:", " ".join(found))
    print("\\n".join(reached))
    sys.exit(1 if reached else 0)
    """
).format(blocked=BLOCKED)


def run_fence(package: str, root: Path, exempt: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", FENCE, package, str(root), exempt],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=root,
    )


def test_every_core_module_imports_without_verl_vllm_ray_or_torch():
    result = run_fence("verl_ccrl", ROOT, "verl_ccrl.integration")
    assert result.returncode == 0, "core modules reached a blocked package:\n" + result.stdout + result.stderr
    imported = result.stdout.split("imported:", 1)[1].split()
    # The walk reaches nested packages and the documented entry-point aliases, not only top-level modules.
    assert {"verl_ccrl.reward", "verl_ccrl.eval.backends", "verl_ccrl.main_ppo", "verl_ccrl.dry_run"} <= set(imported)
    assert not any(name.startswith("verl_ccrl.integration") for name in imported)


@pytest.mark.parametrize("blocked", BLOCKED)
def test_the_fence_names_a_core_module_that_imports_a_blocked_package(tmp_path, blocked):
    package = tmp_path / "fakecore"
    (package / "integration").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "pure.py").write_text("import json\n")
    (package / "leaky.py").write_text(f"import fakecore.pure\nimport {blocked}.sub\n")
    (package / "integration" / "__init__.py").write_text("")
    (package / "integration" / "adapter.py").write_text(f"import {blocked}\n")

    result = run_fence("fakecore", tmp_path, "fakecore.integration")

    assert result.returncode == 1
    assert f"fakecore.leaky: blocked package '{blocked}' imported by fakecore.leaky" in result.stdout
    assert "fakecore.pure:" not in result.stdout and "integration" not in result.stdout


@pytest.mark.parametrize("module", ["verl_ccrl.main_ppo", "verl_ccrl.dry_run"])
def test_a_documented_entry_point_alias_runs_the_integration_module(module):
    result = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Hydra's help (main_ppo) lists the ccrl block of integration/config; argparse's (dry_run) its program name.
    expected = "ccrl:" if module.endswith("main_ppo") else "usage: python -m verl_ccrl.dry_run"
    assert expected in result.stdout
