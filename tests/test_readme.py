from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci_command = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command in (ROOT / "README.md").read_text()


def test_readme_reward_defaults_match_the_config():
    from verl_ccrl import CCRLConfig

    config = CCRLConfig()
    readme = (ROOT / "README.md").read_text()
    for name in ("alpha", "beta", "tau"):
        assert f"`{name}` | {getattr(config, name):g}" in readme, name
