from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    test_command = next(line for line in readme.splitlines() if line.endswith("&& python -m pytest"))
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_ci_runs_the_vllm_cpu_suite():
    assert "bash .ci/vllm_cpu_env.sh" in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_reward_defaults_match_the_config():
    from verl_ccrl import CCRLConfig

    config = CCRLConfig()
    readme = (ROOT / "README.md").read_text()
    for name in ("alpha", "beta", "tau"):
        assert f"`{name}` | {getattr(config, name):g}" in readme, name
