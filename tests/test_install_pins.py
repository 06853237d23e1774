"""The GPU install set is verl's own: our `gpu` extra and README lines agree with the installed verl's metadata."""

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _verl_extra(extra: str) -> list[Requirement]:
    """The installed verl's requirements for one extra, markers stripped."""
    requirements = [Requirement(line) for line in importlib.metadata.requires("verl") or []]
    marker = {"extra": extra}
    return [req for req in requirements if req.marker is not None and req.marker.evaluate(marker)]


def _exact_pin(requirement: Requirement) -> str | None:
    pins = [spec.version for spec in requirement.specifier if spec.operator == "=="]
    return pins[0] if len(pins) == 1 else None


def test_the_gpu_extra_is_verls_own_vllm_extra_at_the_installed_version():
    gpu = _pyproject()["project"]["optional-dependencies"]["gpu"]
    assert gpu == [f"verl[vllm]=={importlib.metadata.version('verl')}"]


def test_our_core_pins_admit_every_version_verls_vllm_extra_pins():
    ours = {Requirement(line).name.lower(): Requirement(line) for line in _pyproject()["project"]["dependencies"]}
    checked = []
    for requirement in _verl_extra("vllm"):
        pin = _exact_pin(requirement)
        mine = ours.get(requirement.name.lower())
        if pin is None or mine is None:
            continue
        assert mine.specifier.contains(pin, prereleases=True), (
            f"verl[vllm] pins {requirement.name}=={pin}; our dependency '{mine}' excludes it"
        )
        checked.append(requirement.name.lower())
    assert {"torch", "transformers"} <= set(checked)  # the two we constrain ourselves


def test_the_readme_installs_the_flash_attn_version_verl_pins_without_build_isolation():
    (flash_attn,) = [req for extra in ("fsdp", "flash-attn-cu130torch211") for req in _verl_extra(extra)
                     if req.name == "flash-attn"]  # fmt: skip
    readme = (ROOT / "README.md").read_text()
    lines = re.findall(r"pip install flash-attn==(\S+) --no-build-isolation", readme)
    assert lines and set(lines) == {_exact_pin(flash_attn)}
