"""``python -m verl_ccrl.dry_run``: the documented name of :mod:`verl_ccrl.integration.dry_run` (compose and
validate a training config against verl's schema). Importing this module imports nothing from verl.
"""

if __name__ == "__main__":
    import runpy

    runpy.run_module("verl_ccrl.integration.dry_run", run_name="__main__", alter_sys=True)
