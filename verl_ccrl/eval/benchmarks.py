"""Benchmark names: which benchmark a row belongs to, and the in-distribution / out-of-distribution sets.

A row's benchmark is the first of these that is present and non-empty: ``extra_info["source"]`` (what
``python -m data_prep`` writes, e.g. ``"gsm8k"``), then the ``data_source`` column (``"openai/gsm8k"``), then the
file stem (``eval_gsm8k.parquet`` -> ``gsm8k``); a ``NAME=FILE`` argument overrides all three for that file. The
name is then made canonical: lower case, the part after the last ``/``, ``-`` and spaces as ``_``, an ``eval_``
prefix and a split suffix (``_test``) dropped, and the aliases below applied. A name that is neither ID nor OOD
keeps its canonical form: it gets a column in the table but enters neither average.

Example::

    >>> canonical_benchmark_name("openai/gsm8k"), canonical_benchmark_name("ChilleD/SVAMP")
    ('gsm8k', 'svamp')
    >>> canonical_benchmark_name("reasoning-machines/gsm-hard"), canonical_benchmark_name("apple/GSM-Symbolic")
    ('gsm_hard', 'gsm_symbolic')
    >>> canonical_benchmark_name("eval_mawps_test"), canonical_benchmark_name("My Toy Set")
    ('mawps', 'my_toy_set')
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_ID_BENCHMARKS", "DEFAULT_OOD_BENCHMARKS", "canonical_benchmark_name"]

# The paper's split: trained on GSM8K + SVAMP (in-distribution), evaluated also on five unseen sets.
DEFAULT_ID_BENCHMARKS: tuple[str, ...] = ("gsm8k", "svamp")
DEFAULT_OOD_BENCHMARKS: tuple[str, ...] = ("asdiv", "mawps", "tabmwp", "gsm_hard", "gsm_symbolic")

# Canonical form (after lower-casing, taking the last path part and '-' -> '_') -> benchmark name. Covers the hub ids
# and source names of data_prep/sources.py, so its eval parquets are recognised whichever field is read.
_ALIASES = {
    "gsm8k": "gsm8k",
    "gsm_8k": "gsm8k",
    "svamp": "svamp",
    "asdiv": "asdiv",
    "asdiv_a": "asdiv",
    "mawps": "mawps",
    "calc_mawps": "mawps",
    "tabmwp": "tabmwp",
    "tab_mwp": "tabmwp",
    "gsm_hard": "gsm_hard",
    "gsmhard": "gsm_hard",
    "gsm_symbolic": "gsm_symbolic",
    "gsmsymbolic": "gsm_symbolic",
    "gsm_symbolic_apple": "gsm_symbolic",
}
_SPLIT_SUFFIX = re.compile(r"_(test|train|validation|val|dev|eval)$")


def canonical_benchmark_name(name: str) -> str:
    """The canonical benchmark name of a source / data_source / file stem (see the module docstring)."""
    text = str(name).strip().lower().rstrip("/")
    text = text.rsplit("/", 1)[-1]
    text = re.sub(r"[\s\-]+", "_", text)
    text = re.sub(r"[^a-z0-9_.+]", "", text).strip("_")
    if text.startswith("eval_"):
        text = text[len("eval_") :]
    if text in _ALIASES:
        return _ALIASES[text]
    stripped = _SPLIT_SUFFIX.sub("", text)
    return _ALIASES.get(stripped, stripped or text)
