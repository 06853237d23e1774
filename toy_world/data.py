"""The toy world's training and evaluation files, in the formats and names the recipes read.

``python -m toy_world.data --out-dir DIR`` writes, through ``data_prep`` (source ``toy_world``):

========================== =================================================================================
file                       content
========================== =================================================================================
``comt_sft.parquet``       train problems; assistant turn = the CoMT plan followed by its execution
``cot_sft.parquet``        the same problems; assistant turn = the chain of thought
``rl_train.parquet``       other train problems (a different seed stream), verl's RL format with the CoT as
                           ``reference`` and the step results as ``reference_values``
``eval_toy_<split>.parquet`` ``test``, ``ood_combo`` and ``ood_steps``, the RL format
========================== =================================================================================

The CoMT target is the plan *with* its execution (``ToyProblem.comt``): the plan alone passes ``data_prep``'s CoMT
validation, but a model trained from scratch has no other way to learn to execute one. The user turns are
``data_prep``'s student prompt, identical in every file.
"""

from __future__ import annotations

import argparse
import json
import os

from data_prep.outputs import write_eval_parquet, write_rl_parquet, write_sft_parquet
from data_prep.sources import load_source

__all__ = ["EVAL_SPLITS", "write_study_data"]

EVAL_SPLITS = ("test", "ood_combo", "ood_steps")
# The RL problems come from another seed stream than the SFT problems, so RL does not revisit SFT targets.
_RL_SEED_OFFSET = 1_000


def write_study_data(out_dir: str, *, n_sft: int = 2000, n_rl: int = 1000, n_eval: int = 200, seed: int = 0) -> dict:
    """Write the files above to ``out_dir``; returns ``{file name: rows}``."""
    for name, value in (("n_sft", n_sft), ("n_rl", n_rl), ("n_eval", n_eval)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} must be an int >= 1 (problems to write).")
    os.makedirs(out_dir, exist_ok=True)
    sft = load_source("toy_world", "train", limit=n_sft, seed=seed)
    counts = {}
    write_sft_parquet([(r, r.meta["comt"]) for r in sft], os.path.join(out_dir, "comt_sft.parquet"))
    write_sft_parquet([(r, r.reference) for r in sft], os.path.join(out_dir, "cot_sft.parquet"))
    counts["comt_sft.parquet"] = counts["cot_sft.parquet"] = len(sft)
    rl = load_source("toy_world", "train", limit=n_rl, seed=seed + _RL_SEED_OFFSET)
    write_rl_parquet(rl, os.path.join(out_dir, "rl_train.parquet"))
    counts["rl_train.parquet"] = len(rl)
    for split in EVAL_SPLITS:
        # Evaluation problems do not depend on the training seed: every run is judged on the same problems.
        records = load_source("toy_world", split, limit=n_eval, seed=0)
        write_eval_parquet(records, os.path.join(out_dir, f"eval_toy_{split}.parquet"))
        counts[f"eval_toy_{split}.parquet"] = len(records)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m toy_world.data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", required=True, help="directory for the parquet files")
    parser.add_argument("--n-sft", type=int, default=2000, help="problems in each SFT file")
    parser.add_argument("--n-rl", type=int, default=1000, help="problems in the RL training file")
    parser.add_argument("--n-eval", type=int, default=200, help="problems in each evaluation file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training problems (evaluation uses 0)")
    args = parser.parse_args(argv)
    counts = write_study_data(args.out_dir, n_sft=args.n_sft, n_rl=args.n_rl, n_eval=args.n_eval, seed=args.seed)
    print(json.dumps({"out_dir": args.out_dir, "rows": counts}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
