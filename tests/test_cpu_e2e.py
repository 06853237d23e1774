"""CPU mode end to end: verl's real GRPO trainer on a tiny model, with the ``hf_cpu`` rollout's exact entropies.

verl runs in subprocesses only (its registries are process-global); this process builds fixtures and reads logs.
The end-to-end test takes about a minute on two cores, most of it Ray and worker start-up.
"""

from __future__ import annotations

import asyncio
import glob
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 2
TRAIN_BATCH_SIZE = 4  # prompts per step, as verl_ccrl.integration.cpu.run_smoke sets it
GRPO_SAMPLES_PER_PROMPT = 4


def _run_python(code: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_registration_happens_only_when_verl_is_told_to_import_the_module():
    check = """
        import verl_ccrl.integration.cpu
        from verl.plugin.platform import PlatformRegistry
        from verl.workers.rollout.base import _ROLLOUT_REGISTRY
        from verl.workers.rollout.replica import RolloutReplicaRegistry
        print(json.dumps({
            "platform": "cpu" in PlatformRegistry.registered_names(),
            "rollout": ("hf_cpu", "async") in _ROLLOUT_REGISTRY,
            "replica": "hf_cpu" in RolloutReplicaRegistry._registry,
        }))
    """
    plain_env = {"VERL_USE_EXTERNAL_MODULES": "", "VERL_PLATFORM": ""}
    plain = _run_python("import json\n" + textwrap.dedent(check), env=plain_env)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert json.loads(plain.stdout.strip().splitlines()[-1]) == {"platform": False, "rollout": False, "replica": False}

    selected = _run_python(
        """
        import json, verl
        import verl_ccrl.integration.cpu
        verl_ccrl.integration.cpu.register()  # idempotent: a second registration changes nothing
        import verl.utils.distributed as distributed
        from verl.plugin.platform import get_platform
        from verl.utils.device import get_device_id, get_torch_device
        from verl.workers.rollout.base import _ROLLOUT_REGISTRY
        from verl.workers.rollout.replica import get_rollout_replica_class
        device = get_torch_device()
        seam = distributed.initialize_global_process_group_ray
        print(json.dumps({
            "device_name": get_platform().device_name,
            "device_id": get_device_id(),
            "memory_reserved": device.memory_reserved(),
            "rng_state_restores": bool((device.set_rng_state(device.get_rng_state()) or True)),
            "rollout": _ROLLOUT_REGISTRY[("hf_cpu", "async")],
            "replica": get_rollout_replica_class("hf_cpu").__name__,
            "gloo_seam": hasattr(seam, "__wrapped__"),
            "gloo_seam_not_doubled": not hasattr(getattr(seam, "__wrapped__", None), "__wrapped__"),
        }))
        """,
        env={"VERL_USE_EXTERNAL_MODULES": "verl_ccrl.integration.cpu", "VERL_PLATFORM": "cpu"},
    )
    assert selected.returncode == 0, selected.stderr[-3000:]
    assert json.loads(selected.stdout.strip().splitlines()[-1]) == {
        "device_name": "cpu",
        "device_id": "cpu",
        "memory_reserved": 0,
        "rng_state_restores": True,
        "rollout": "verl_ccrl.integration.cpu.hf_rollout.HFCPUServerAdapter",
        "replica": "HFCPUReplica",
        "gloo_seam": True,
        "gloo_seam_not_doubled": True,
    }


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory):
    from verl_ccrl.integration.cpu.tiny_model import build_tiny_model

    return build_tiny_model(str(tmp_path_factory.mktemp("tiny_model")), seed=0)


@pytest.fixture(scope="module")
def hf_cpu_server(tiny_model_path):
    """The rollout server class used directly (no Ray): it only needs verl's config dataclasses."""
    from verl.workers.config import HFModelConfig, RolloutConfig

    from verl_ccrl.integration.cpu.hf_rollout import HFCPURolloutServer

    rollout_config = RolloutConfig(name="hf_cpu", prompt_length=64, response_length=12, tensor_model_parallel_size=1)
    return HFCPURolloutServer(rollout_config, HFModelConfig(path=tiny_model_path), replica_rank=0)


def _prompt_ids(server) -> list[int]:
    messages = [{"role": "user", "content": "Tom has 3 boxes with 4 apples each. How many apples?"}]
    return list(
        server.model_config.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=True, return_dict=False
        )
    )


def _reference_step_logits(server, prompt_ids: list[int], token_ids: list[int]) -> torch.Tensor:
    """Next-token logits at each response position, from one teacher-forced forward pass."""
    sequence = torch.tensor([prompt_ids + token_ids])
    with torch.no_grad():
        logits = server.model(input_ids=sequence).logits[0].float()
    return logits[len(prompt_ids) - 1 : len(prompt_ids) - 1 + len(token_ids)]


@pytest.mark.parametrize(
    "sampling_params",
    [
        {"temperature": 0, "top_p": 1.0, "top_k": -1, "logprobs": True},
        {"temperature": 0.7, "top_p": 0.9, "top_k": 20, "logprobs": True, "seed": 3},
    ],
    ids=["greedy", "sampled-truncated"],
)
def test_hf_cpu_entropies_are_exact_for_the_distribution_sampled_from(hf_cpu_server, sampling_params):
    from verl_ccrl.entropy import entropy_from_logits

    prompt_ids = _prompt_ids(hf_cpu_server)
    output = asyncio.run(hf_cpu_server.generate(prompt_ids, dict(sampling_params), request_id="unit"))
    entropies = output.extra_fields["ccrl_entropies"]
    assert 1 <= len(output.token_ids) <= 12
    assert len(entropies) == len(output.token_ids) == len(output.log_probs)
    assert all(isinstance(value, float) for value in entropies)

    step_logits = _reference_step_logits(hf_cpu_server, prompt_ids, output.token_ids)
    temperature = sampling_params["temperature"] or 1.0  # greedy reports the untempered distribution
    expected = entropy_from_logits(step_logits / temperature)
    assert torch.allclose(torch.tensor(entropies), expected, atol=1e-4)
    expected_log_probs = torch.log_softmax(step_logits / temperature, -1).gather(
        -1, torch.tensor(output.token_ids)[:, None]
    )
    assert torch.allclose(torch.tensor(output.log_probs), expected_log_probs[:, 0], atol=1e-4)
    if sampling_params["temperature"] == 0:
        assert output.token_ids == step_logits.argmax(-1).tolist()


def test_hf_cpu_respects_max_tokens_and_takes_weights(hf_cpu_server):
    prompt_ids = _prompt_ids(hf_cpu_server)
    params = {"temperature": 0, "top_p": 1.0, "top_k": -1, "max_tokens": 3}
    before = asyncio.run(hf_cpu_server.generate(prompt_ids, dict(params), request_id="a"))
    assert len(before.token_ids) == len(before.extra_fields["ccrl_entropies"]) <= 3

    original = {name: tensor.clone() for name, tensor in hf_cpu_server.model.state_dict().items()}
    try:
        # A zero model predicts the uniform distribution: entropy log |V| at every step.
        zeros = {name: torch.zeros_like(tensor) for name, tensor in original.items()}
        assert asyncio.run(hf_cpu_server.update_weights(zeros, global_steps=7)) == len(zeros)
        after = asyncio.run(hf_cpu_server.generate(prompt_ids, dict(params), request_id="b"))
        vocab_size = hf_cpu_server.model.config.vocab_size
        assert after.extra_fields["global_steps"] == 7
        assert all(abs(value - math.log(vocab_size)) < 1e-4 for value in after.extra_fields["ccrl_entropies"])
    finally:
        asyncio.run(hf_cpu_server.update_weights(original))


def _metric_values(log_text: str, name: str) -> list[float]:
    # verl's console logger prints "name:0.5" (V1 trainer) or "name:np.float64(0.5)" (legacy trainer).
    pattern = rf"{re.escape(name)}:(?:np\.float\d+\()?([-+0-9.eE]+|nan|inf)"
    return [float(value) for value in re.findall(pattern, log_text)]


def _records(run_dir) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(glob.glob(str(run_dir / "reward_records" / "*.jsonl")))
        for line in open(path, encoding="utf-8")
    ]


@pytest.mark.parametrize("estimator", ["grpo", "gae"])
def test_ccrl_trains_end_to_end_on_cpu(tmp_path, estimator):
    """verl's real trainer (Ray, FSDP2, agent loop, reward loop, weight sync, advantages) with CCRL on."""
    from transformers import AutoTokenizer

    from verl_ccrl import CCRLConfig, TokenAligner, score_response

    workdir = tmp_path / "run"
    # A random model never answers right; judging numbers that match no reference value as wrong makes the
    # reward vary with the sampled numbers and their confidence, so advantages and gradients are non-zero.
    command = [sys.executable, "-m", "verl_ccrl.integration.cpu.run_smoke", "--workdir", str(workdir)]
    command += ["--steps", str(STEPS)]
    command += ["--method", "ccrl", "--estimator", estimator, "ccrl.reference_mismatch_is_wrong=True"]
    # GRPO scores with the rollout's entropies; GAE with the actor's, recomputed after the old-log-prob pass.
    command += [f"ccrl.entropy_source={'rollout' if estimator == 'grpo' else 'actor'}"]
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)
    run_dir = workdir / f"ccrl-{estimator}"
    log_path = run_dir / "train.log"
    log_text = log_path.read_text() if log_path.exists() else ""
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:] + log_text[-6000:]
    assert f"step:{STEPS} -" in log_text, log_text[-6000:]

    for metric in ("ccrl/outcome_mean", "ccrl/confidence_term_mean", "ccrl/computed_per_response"):
        assert len(_metric_values(log_text, metric)) == STEPS, metric
    assert _metric_values(log_text, "ccrl/missing_entropies_share") == [0.0] * STEPS

    # For every sampled response, the reward verl used equals what the core computes from the same text and
    # the same entropies, and the rollout's entropies covered every response token.
    records = _records(run_dir)
    samples_per_prompt = GRPO_SAMPLES_PER_PROMPT if estimator == "grpo" else 1
    assert len(records) == STEPS * TRAIN_BATCH_SIZE * samples_per_prompt
    tokenizer = AutoTokenizer.from_pretrained(str(workdir / "tiny_model"))
    aligner = TokenAligner(tokenizer)
    config = CCRLConfig(reference_mismatch_is_wrong=True)
    for record in records:
        assert record["entropies"] is not None and len(record["entropies"]) == len(record["response_ids"]) > 0
        assert all(math.isfinite(value) and value >= 0 for value in record["entropies"])
        text = tokenizer.decode(record["response_ids"], skip_special_tokens=True)
        expected = score_response(
            record["problem"], text, record["ground_truth"], reference=record["reference"],
            reference_values_extra=record["reference_values"],
            token_spans=aligner.char_spans(record["response_ids"], text), entropies=record["entropies"], config=config,
        )  # fmt: skip
        assert record["reward"] == pytest.approx(expected.total, abs=1e-9)
    assert any(record["reward_extra_info"]["ccrl_n_in_reward"] > 0 for record in records)

    # hf_cpu's exact entropies and the actor's (same weights after each sync, same temperature) agree to within
    # the actor's bf16 compute (measured: 0.012 nats on ~6, the near-uniform entropy of the random model).
    with open(workdir / "tiny_model" / "config.json", encoding="utf-8") as config_file:
        max_entropy = math.log(json.load(config_file)["vocab_size"])
    gaps = _metric_values(log_text, "ccrl/entropy_gap_mean")
    # The gap is measured on the tokens of judged numbers: a step whose random-model responses judge none logs none.
    assert 1 <= len(gaps) <= STEPS and all(gap < 0.01 * max_entropy for gap in gaps), gaps
    if estimator == "gae":
        assert len(_metric_values(log_text, "ccrl/actor/confidence_term_mean")) == STEPS

    grad_norms = _metric_values(log_text, "actor/grad_norm")
    assert len(grad_norms) == STEPS and all(math.isfinite(value) and value > 0 for value in grad_norms)
    if estimator == "gae":
        critic_norms = _metric_values(log_text, "critic/grad_norm")
        assert len(critic_norms) == STEPS and all(value > 0 for value in critic_norms)
