"""The plain-PyTorch GRPO reference of the toy world (toy_world/grpo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from toy_world.grpo import group_advantages, main, parse_args  # noqa: E402

BASE_MODEL = str(Path(__file__).resolve().parents[1] / "toy_world" / "checkpoints" / "base")


def test_advantages_are_rewards_minus_their_group_mean():
    rewards = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    advantages = group_advantages(rewards, 3, std_normalise=False)
    torch.testing.assert_close(advantages, torch.tensor([1 / 3, -2 / 3, 1 / 3, 0.0, 0.0, 0.0]))


def test_std_division_scales_each_group_by_its_own_sample_std():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 3.0, 1.0])
    advantages = group_advantages(rewards, 2)
    half_root = 0.5**0.5  # (1 - 0.5) / std([1, 0]) and (3 - 2) / std([3, 1])
    torch.testing.assert_close(advantages, torch.tensor([half_root, -half_root, 0.0, 0.0, half_root, -half_root]))


def test_a_step_samples_scores_and_updates(capsys):
    main(["--model", BASE_MODEL, "--steps", "1", "--prompts", "2", "--samples", "2", "--max-new-tokens", "8",
          "--eval-n", "0", "--n-problems", "4"])  # fmt: skip
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["step"] == 1 and 0.0 <= record["reward"] <= 1.0 and record["grad_norm"] >= 0.0


@pytest.mark.parametrize(
    "argv, named",
    [(["--samples", "1"], "--samples=1"), (["--prompts", "9", "--n-problems", "8"], "--prompts=9"),
     (["--steps", "0"], "--steps=0")],
)  # fmt: skip
def test_bad_options_are_refused_by_name(argv, named, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--model", BASE_MODEL, *argv])
    assert named in capsys.readouterr().err
