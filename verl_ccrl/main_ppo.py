"""``python -m verl_ccrl.main_ppo``: the documented name of :mod:`verl_ccrl.integration.main_ppo` (verl's PPO entry
point with CCRL selected). Importing this module imports nothing from verl.

Run as ``__main__`` exactly as ``python -m verl_ccrl.integration.main_ppo`` would be: Hydra finds ``config/`` next
to the calling file, and Ray ships the task runner defined there.
"""

if __name__ == "__main__":
    import runpy

    runpy.run_module("verl_ccrl.integration.main_ppo", run_name="__main__", alter_sys=True)
