"""``CCRLConfig`` owns every ccrl default; the recipes and the README table state the same values.

(The trainer YAML's ``ccrl:`` block is checked by ``test_yaml_ccrl_block_matches_the_config_defaults`` in
``tests/test_verl_trainer_hooks.py``.)
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import yaml

from verl_ccrl.config import CCRLConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS = {f.name: f.default for f in fields(CCRLConfig)}


def as_config_value(name: str, value):
    """A stated value as ``CCRLConfig`` stores it (lists become tuples in ``__post_init__``)."""
    return getattr(CCRLConfig(**{name: value}), name) if value is not None else None


def recipe_defaults() -> dict:
    """``ccrl.<field>`` -> the default of the shell variable the recipes pass for it."""
    text = (ROOT / "recipes/common.sh").read_text()
    variables = dict(re.findall(r"^(CCRL_\w+)=\$\{\1:-([^}]*)\}", text, re.M))
    passed = dict(re.findall(r'"ccrl\.(\w+)=\$(CCRL_\w+)"', text))
    return {name: yaml.safe_load(variables[variable]) for name, variable in passed.items()}


def readme_defaults() -> dict:
    """The "field | default" table of the README's reward section; ``a` / `b`` rows state two fields."""
    stated = {}
    for names, values in re.findall(r"^\| (`\w+`(?: / `\w+`)*) \| ([^|]+) \|", (ROOT / "README.md").read_text(), re.M):
        for name, value in zip(names.split(" / "), values.strip().split(" / ")):
            stated[name.strip("`")] = yaml.safe_load(value.strip("`"))
    return {name: value for name, value in stated.items() if name in DEFAULTS}


def test_the_recipes_pass_the_ccrl_defaults_unless_overridden():
    stated = recipe_defaults()
    assert {"alpha", "beta", "tau", "top_k"} <= set(stated)
    assert {name: as_config_value(name, value) for name, value in stated.items()} == {n: DEFAULTS[n] for n in stated}


def test_the_readme_table_states_the_ccrl_defaults():
    stated = readme_defaults()
    assert {"alpha", "beta", "tau", "top_k", "correct_reward", "wrong_reward"} <= set(stated)
    assert {name: as_config_value(name, value) for name, value in stated.items()} == {n: DEFAULTS[n] for n in stated}
