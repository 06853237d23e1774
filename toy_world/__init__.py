"""A toy world where the method's effect can be measured on a laptop: templated multi-step word problems, a
byte-level BPE tokenizer (digits and template words single tokens), small Qwen2 models trained from scratch, and
the files verl's trainers read.

============================ ======================================================================================
module                       what it holds
============================ ======================================================================================
:mod:`toy_world.problems`    the seeded generator: splits ``train``/``test`` (2-3 steps), ``ood_combo`` (operation
                             pairs ID never shows), ``ood_steps`` (4-5 steps); CoT, CoMT plan, plan + execution
:mod:`toy_world.tokenizer`   the tokenizer (digits single tokens, one token per template word), a ``Qwen2Tokenizer``
:mod:`toy_world.model`       Qwen2 sizes ``xs``/``s``/``m`` and a random model with the toy tokenizer
:mod:`toy_world.train`       plain PyTorch base training and greedy accuracy per split, against training CPU-seconds
:mod:`toy_world.data`        CoMT/CoT SFT, RL and eval parquet files for the recipes (through ``data_prep``)
============================ ======================================================================================

``data_prep`` reads the generator as source ``toy_world`` (``python -m data_prep rl --source toy_world --split
ood_steps ...``); ``recipes/toy_world.sh`` runs the study through verl from the committed base model
(``toy_world/checkpoints/README.md``).

Nothing is downloaded; everything is deterministic in its seed.

Measured (``python -m toy_world.train --size xs --batch 32 --lr 3e-3 --warmup 100 --eval-every 1000 --eval-n 100``;
lr warmup then cosine to 10 % over ``--steps``; one torch thread, seed 0; greedy accuracy on the first 100 problems
of each split; training CPU-seconds on the shared 2-core machine, evaluation excluded):

=================================== ====== ====== ====== ======= ======= ==========================================
run                                 step   CPU-s  ID     OOD     OOD     notes
                                                         combo   steps
=================================== ====== ====== ====== ======= ======= ==========================================
``--form mix --steps 3000``         2000   293    0.44   0.21    0.04    the run of the committed base
``--form mix --steps 3000``         3000   435    0.74   0.62    0.05    the committed base; 97 % in CoMT form
``--form mix --steps 2000``         2000   287    0.36   0.29    0.05    2 % in CoMT form
``--form mix --steps 6000``         4000   704    0.71   0.69    0.03    stopped at 4000
``--form comt --steps 4000``        4000   713    0.70   0.58    0.05
=================================== ====== ====== ====== ======= ======= ==========================================

Each row is one seed and 100 problems per split (a standard error of about 0.05 at 0.3); the spread between
schedules is larger than that.
"""
