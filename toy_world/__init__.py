"""A toy world where the method's effect can be measured on a laptop: templated multi-step word problems, a
word-and-digit tokenizer, small Qwen2 models trained from scratch, and the files verl's trainers read.

============================ ======================================================================================
module                       what it holds
============================ ======================================================================================
:mod:`toy_world.problems`    the seeded generator: splits ``train``/``test`` (2-3 steps), ``ood_combo`` (operation
                             pairs ID never shows), ``ood_steps`` (4-5 steps); CoT, CoMT plan, plan + execution
:mod:`toy_world.tokenizer`   the tokenizer (digits single tokens, one token per template word), a HF fast tokenizer
:mod:`toy_world.model`       Qwen2 sizes ``xs``/``s``/``m`` and a random model with the toy tokenizer
:mod:`toy_world.train`       plain PyTorch base training and greedy accuracy per split, against training CPU-seconds
:mod:`toy_world.data`        CoMT/CoT SFT, RL and eval parquet files for the recipes (through ``data_prep``)
============================ ======================================================================================

``data_prep`` reads the generator as source ``toy_world`` (``python -m data_prep rl --source toy_world --split
ood_steps ...``); ``recipes/toy_world_quick.sh`` runs the study through verl.

Nothing is downloaded; everything is deterministic in its seed.
"""
