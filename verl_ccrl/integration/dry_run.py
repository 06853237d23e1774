"""Compose a full training config against verl's real schema, validate it, print it; start nothing.

    python -m verl_ccrl.dry_run ppo [hydra overrides...]   # integration/config/ccrl_trainer.yaml (+ verl's ppo_trainer)
    python -m verl_ccrl.dry_run sft [hydra overrides...]   # verl's sft_trainer_engine.yaml
    python -m verl_ccrl.dry_run sft [...] --- ppo [...]    # several jobs in one process (what recipes do)

Catches, on a CPU machine in seconds, what would otherwise fail an hour into a cluster job: unknown or mistyped
keys (Hydra's struct mode), values verl's config dataclasses reject (every ``_target_: verl...`` section is
instantiated, which runs their ``__post_init__`` checks), verl's cross-field ``validate_config`` for PPO, and the
``ccrl:`` block. Recipes call this when ``DRY_RUN=1``.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from verl_ccrl.config import CCRLConfig

CONFIG_DIRS = {
    "ppo": (str(Path(__file__).resolve().parent / "config"), "ccrl_trainer"),
    "sft": (None, "sft_trainer_engine"),  # verl's own, found through its package
}


def compose(kind: str, overrides: list[str]) -> DictConfig:
    """The config ``python -m verl_ccrl.main_ppo`` (ppo) or ``verl.trainer.sft_trainer`` (sft) would run."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir, initialize_config_module

    config_dir, config_name = CONFIG_DIRS[kind]
    if config_dir is not None:
        context = initialize_config_dir(config_dir=config_dir, version_base=None)
    else:
        context = initialize_config_module(config_module="verl.trainer.config", version_base=None)
    with context:
        return hydra_compose(config_name=config_name, overrides=overrides)


# Sections whose dataclass reads model files when built (HFModelConfig loads the HF config and tokenizer from
# ``path``). A dry run has no checkpoint, so these get the structural check only: keys and types.
_LOADS_MODEL_FILES = ("verl.workers.config.HFModelConfig",)


def _structural_check(node: DictConfig, target: str, here: str) -> None:
    from hydra.utils import get_class

    try:
        OmegaConf.merge(OmegaConf.structured(get_class(target)), node)
    except Exception as error:
        raise ValueError(f"{here}: verl rejects this section ({target}): {error}") from error


_SCALARS = {float: (int, float), int: (int,), bool: (bool,), str: (str,)}


def _check_scalar_types(instance, here: str) -> None:
    """Every scalar-typed field of a built verl dataclass (and of the dataclasses inside it) holds that type."""
    import dataclasses
    import types
    import typing

    if not dataclasses.is_dataclass(instance):
        return
    hints = typing.get_type_hints(type(instance))
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name, None)
        if dataclasses.is_dataclass(value):
            _check_scalar_types(value, f"{here}.{field.name}")
            continue
        hint = hints.get(field.name)
        origin = typing.get_origin(hint)
        if origin is typing.Union or origin is types.UnionType:
            options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        elif origin is None:
            options = [hint]
        else:
            continue  # containers: their items are verl's business
        if value is None or len(options) != 1 or options[0] not in _SCALARS:
            continue
        allowed = _SCALARS[options[0]]
        if not isinstance(value, allowed) or (
            options[0] is not bool and isinstance(value, bool) and bool not in allowed
        ):
            raise ValueError(
                f"{here}.{field.name}={value!r} ({type(value).__name__}) must be {options[0].__name__}; fix the value."
            )


def _without_model_sections(node: DictConfig, here: str) -> DictConfig:
    """A copy of ``node`` where each model-file section is checked structurally and then left out, and values
    verl leaves mandatory-but-unset (``???``, e.g. the name of a disabled reward model's rollout) are null."""
    node = OmegaConf.create(OmegaConf.to_container(node, resolve=True, throw_on_missing=False))
    for key in list(node.keys()):
        if OmegaConf.is_missing(node, key):
            node[key] = None
            continue
        child = node[key]
        if isinstance(child, DictConfig):
            target = child.get("_target_")
            if target in _LOADS_MODEL_FILES:
                _structural_check(child, target, f"{here}.{key}")
                node[key] = None
            else:
                node[key] = _without_model_sections(child, f"{here}.{key}")
    return node


# The sections verl 0.9.1 builds as they are written (its own omega_conf_to_dataclass calls: trainer_base.py:266,
# :703, engine_workers.py:540, :593, sft_trainer.py:141-145). Others it rewrites first (e.g. ``ref``,
# engine_workers.py:545), so building them here would reject configs verl accepts; Hydra's struct mode still
# checks their keys.
SECTIONS = {
    "ppo": ("actor_rollout_ref.model", "actor_rollout_ref.actor", "actor_rollout_ref.rollout", "critic", "algorithm"),
    "sft": ("model", "engine", "optim", "checkpoint", "profiler"),
}


def instantiate_sections(config: DictConfig, sections: tuple[str, ...]) -> list[str]:
    """Build the verl dataclass of each section in ``sections`` so its own checks run; returns those checked."""
    from hydra.utils import instantiate

    checked = []
    for here in sections:
        node = OmegaConf.select(config, here, throw_on_missing=False)
        if here == "critic" and not (node is not None and node.get("enable", False)):
            continue  # verl builds the critic only when one is used
        target = node.get("_target_") if isinstance(node, DictConfig) else None
        if not isinstance(target, str):
            continue
        if target in _LOADS_MODEL_FILES:
            _structural_check(node, target, here)
        else:
            try:
                built = instantiate(_without_model_sections(node, here), _convert_="partial")
            except ValueError:
                raise
            except Exception as error:
                raise ValueError(f"{here}: verl rejects this section ({target}): {error}") from error
            # Instantiation passes a string into a float field without complaint; verl would fail later.
            _check_scalar_types(built, here)
        checked.append(here)
    return checked


def stand_in_missing_models(config: DictConfig, stand_in: str | None = None) -> list[str]:
    """Point model sections whose files are not on this machine at a tiny local model; returns the replaced paths.

    verl builds its model configs from the checkpoint's own config and tokenizer, so checking a recipe for an 8B
    model on a laptop needs something to read. The stand-in changes what is checked only where verl reads the
    model (e.g. vocabulary size); every key and value of the recipe is still checked as written.
    """
    replaced: list[str] = []

    def visit(node: DictConfig) -> None:
        for key in node:
            if OmegaConf.is_missing(node, key):
                continue
            child = node[key]
            if not isinstance(child, DictConfig):
                continue
            if child.get("_target_") in _LOADS_MODEL_FILES:
                for field in ("path", "tokenizer_path", "hf_config_path"):
                    value = child.get(field)
                    if isinstance(value, str) and not os.path.exists(os.path.expanduser(value)):
                        nonlocal stand_in
                        stand_in = stand_in or _tiny_model()
                        replaced.append(value)
                        child[field] = stand_in
            visit(child)

    visit(config)
    return sorted(set(replaced))


@functools.lru_cache(maxsize=1)
def _tiny_model() -> str:
    import tempfile

    from verl_ccrl.integration.cpu.tiny_model import build_tiny_model

    return build_tiny_model(os.path.join(tempfile.mkdtemp(prefix="ccrl_dry_run_"), "tiny_model"))


def validate(kind: str, config: DictConfig) -> list[str]:
    """Every check that needs no cluster. Raises ValueError naming the section; returns the checked sections."""
    OmegaConf.resolve(config)
    for path in stand_in_missing_models(config):
        print(
            f"note: model files not found at {path}; checking the config against a tiny stand-in model", file=sys.stderr
        )
    if kind == "ppo":
        _check_names(config)
        from verl.trainer.ppo.utils import need_critic, need_reference_policy
        from verl.utils.config import validate_config

        from verl_ccrl.integration.main_ppo import check_ccrl_config

        check_ccrl_config(config)
        # verl's cross-field checks size batches by the GPUs it will see; validate for the GPUs the recipe asks for.
        try:
            validate_config(
                config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config)
            )
        except Exception as error:  # verl raises assertions and Hydra errors here
            raise ValueError(f"verl's validate_config rejects the config: {error}") from error
    return instantiate_sections(config, SECTIONS[kind])


def _check_names(config: DictConfig) -> None:
    """Names verl resolves only deep inside a run: the advantage estimator and the rollout backend."""
    from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from verl_ccrl.integration.cpu import register_rollout
    from verl_ccrl.integration.plugin import register_rollouts

    register_rollouts()  # vllm_ccrl
    register_rollout()  # hf_cpu, by name only
    estimator = config.algorithm.adv_estimator
    if estimator not in ADV_ESTIMATOR_REGISTRY:
        raise ValueError(
            f"algorithm.adv_estimator={estimator!r} is not one of verl's: {sorted(ADV_ESTIMATOR_REGISTRY)}."
        )
    rollout = config.actor_rollout_ref.rollout.name
    if rollout not in RolloutReplicaRegistry._registry:
        raise ValueError(
            f"actor_rollout_ref.rollout.name={rollout!r} is not a registered rollout: "
            f"{sorted(RolloutReplicaRegistry._registry)}."
        )


JOB_SEPARATOR = "---"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    jobs, current = [], []
    for item in argv:
        if item == JOB_SEPARATOR:
            jobs.append(current)
            current = []
        else:
            current.append(item)
    jobs.append(current)
    results = [_run_job(job) for job in jobs if job]
    return 0 if results and all(code == 0 for code in results) else 1


def _run_job(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_ccrl.dry_run", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(CONFIG_DIRS), help="ppo: CCRL/PPO trainer; sft: verl's SFT trainer")
    parser.add_argument("--quiet", action="store_true", help="print only the verdict, not the composed config")
    parser.epilog = f"Every other argument is a Hydra override, exactly as passed to the trainer; '{JOB_SEPARATOR}' starts another job."
    args, args.overrides = parser.parse_known_args(argv)
    unknown_flags = [item for item in args.overrides if item.startswith("--")]
    if unknown_flags:
        parser.error(f"unknown option(s) {unknown_flags}; Hydra overrides look like key=value")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        config = compose(args.kind, args.overrides)
        sections = validate(args.kind, config)
    except Exception as error:  # Hydra and verl raise many types; the message is what the user needs
        print(f"DRY RUN FAILED ({args.kind}): {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(OmegaConf.to_yaml(config))
    verdict = (
        f"DRY RUN OK ({args.kind}): {len(args.overrides)} overrides, {len(sections)} verl config sections validated"
    )
    if args.kind == "ppo":  # the two choices that decide where the entropies come from
        source = CCRLConfig.from_mapping(config.get("ccrl")).entropy_source
        verdict += f"; rollout={config.actor_rollout_ref.rollout.name}, ccrl.entropy_source={source}"
        filter_groups = config.algorithm.get("filter_groups", None) or {}
        metric = filter_groups.get("metric") if filter_groups.get("enable", False) else "off"
        skip = (config.get("masa", None) or {}).get("skip_predicted_zero_variance", False)
        verdict += f"; zero-variance filter={metric}, skip predicted zero-variance={skip}"
    print(verdict)
    return 0


if __name__ == "__main__":
    sys.exit(main())
