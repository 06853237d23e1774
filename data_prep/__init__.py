"""data_prep: the training and evaluation data of verl-ccrl (arXiv 2601.21909), built by one resumable tool.

- :mod:`data_prep.sources`: GSM8K, SVAMP, ASDiv, MAWPS, TabMWP, GSM-Hard, GSM-Symbolic (hub or local files) and an
  offline reasoning-gym generator, normalised into :class:`~data_prep.records.Record`.
- :mod:`data_prep.teachers`: teacher backends behind one async interface, one module each (OpenAI-compatible
  servers, vLLM offline, transformers, and a deterministic demo teacher).
- :mod:`data_prep.comt`: Chain-of-Meta-Thought generation with validation and regeneration.
- :mod:`data_prep.store`: the append-only result store that makes runs resumable after a crash or ``kill -9``.
- :mod:`data_prep.outputs`: SFT (verl ``messages``), RL and eval parquet files.
- :mod:`data_prep.cli`: ``python -m data_prep build|comt|rl|eval|sources``; its options in :mod:`data_prep.options`.

Imports are light: heavy libraries (``datasets``, ``openai``, ``torch``, ``vllm``) load only when used.
"""

from data_prep.records import DataError, Record

__all__ = ["DataError", "Record"]
