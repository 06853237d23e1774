"""The verl plugin fails loudly, and ``python -m verl_ccrl.main_ppo`` refuses to start where it would not load."""

import os
import subprocess
import sys
import textwrap

import pytest

from verl_ccrl.integration.main_ppo import PLUGIN_POLICY_ENV_VAR, check_plugin

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python(code: str, env: dict | None = None, args=(), timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *(["-c", textwrap.dedent(code)] if code else []), *args],
        cwd=REPO_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_a_plugin_that_fails_to_register_says_so_at_error_level_when_verl_loads_it():
    # verl itself only DEBUG-logs the failure (verl/__init__.py:75); the reward manager module cannot be imported.
    result = python("import sys; sys.modules['verl_ccrl.integration.reward_manager'] = None; import verl")
    assert result.returncode == 0  # verl goes on without the plugin ...
    assert "verl-ccrl: the verl plugin verl_ccrl.integration.plugin failed" in result.stderr  # ... but not silently
    assert "reward_manager" in result.stderr  # the cause is shown


def test_the_installed_plugin_passes_the_start_up_check():
    check_plugin({})


@pytest.mark.parametrize("policy", ["none", "some_other_plugin"])
def test_a_plugin_policy_that_excludes_verl_ccrl_is_refused_naming_the_variable(policy):
    with pytest.raises(
        RuntimeError, match=rf"{PLUGIN_POLICY_ENV_VAR}='{policy}'.*Unset {PLUGIN_POLICY_ENV_VAR} or add ccrl"
    ):
        check_plugin({PLUGIN_POLICY_ENV_VAR: policy})


def test_a_policy_that_names_verl_ccrl_passes():
    check_plugin({PLUGIN_POLICY_ENV_VAR: "other, ccrl"})


def test_main_ppo_stops_before_ray_when_verl_would_not_load_the_plugin():
    result = python("", env={PLUGIN_POLICY_ENV_VAR: "none"}, args=["-m", "verl_ccrl.main_ppo"], timeout=120)
    assert result.returncode != 0
    assert f"{PLUGIN_POLICY_ENV_VAR}='none' keeps verl from loading verl-ccrl's plugin" in result.stderr
    assert "Started a local Ray instance" not in result.stdout + result.stderr
