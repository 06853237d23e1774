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
ood_steps ...``); ``recipes/toy_world_quick.sh`` runs the study through verl.

Nothing is downloaded; everything is deterministic in its seed.

Measured (``python -m toy_world.train``; batch 32, lr 3e-3 with 100 warmup steps then cosine to 10 %, one torch
thread; greedy accuracy on the first 100 problems of each split; training CPU-seconds, evaluation excluded; on the
shared 2-core build machine at load 15-38, so wall-clock time was 5-15 times the CPU time):

========================= ========= ======== ======= ========= ========= ==================================
run                       steps     train    ID      OOD       OOD       notes
                                    CPU-s    test    combo     steps
========================= ========= ======== ======= ========= ========= ==================================
xs, ``--form cot``        1000      131      0.14    0.05      0.06
xs, ``--form cot``        1500      202      0.32    0.08      0.01
xs, ``--form cot``        1750      234      0.41    0.24      0.01
xs, ``--form cot``        2000      266      0.49    0.46      0.03      of 2500 planned; stopped at the deadline
xs, ``--form mix``        1000      155      0.04    0.05      0.01      answers in both forms
xs, ``--form mix``        2500      401      0.23    0.09      0.02      91 % of answers in CoMT form
s, ``--form mix``         250       189      0.00    0.01      0.01      of 1000 planned; stopped for lack of CPU
xs mix 2500, then cot     +150      +21      0.24    0.13      0.01      ``--init`` the mix model, lr 5e-4, 20 warmup
xs mix 2500, then comt    +150      +26      0.26    0.04      0.06      same; 100 % of answers in CoMT form
========================= ========= ======== ======= ========= ========= ==================================

    python -m toy_world.train --out OUT --size xs --form cot --batch 32 --lr 3e-3 --warmup 100 --steps 2500 \
        --eval-every 250 --save-every 250 --eval-n 100        # OUT/step_2000 is the 0.49 row above

Each row is one seed and 100 problems per split (a standard error of about 0.05 at 0.3).
"""
