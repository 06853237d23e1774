"""The verl adapter layer: every module that imports verl, vLLM or Ray lives here, and only here.

:mod:`verl_ccrl.integration.plugin` registers reward manager ``ccrl`` and rollout ``vllm_ccrl`` (the ``verl.plugins``
entry point); :mod:`~verl_ccrl.integration.reward_manager`, :mod:`~verl_ccrl.integration.vllm_rollout` and
:mod:`~verl_ccrl.integration.trainer` adapt the pure core (``verl_ccrl/*.py``) to verl's reward loop, vLLM server and
V1 trainer; :mod:`~verl_ccrl.integration.main_ppo` and :mod:`~verl_ccrl.integration.dry_run` are the entry points
(also reachable as ``python -m verl_ccrl.main_ppo`` / ``verl_ccrl.dry_run``); ``config/`` holds the trainer YAML and
:mod:`verl_ccrl.integration.cpu` the CPU debugging mode. Importing this package itself imports nothing.
"""
