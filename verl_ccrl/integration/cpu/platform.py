"""A ``cpu`` platform for verl 0.9.1.

Debugging backend: it lets verl's real PPO/GRPO trainer run on a machine without an accelerator (laptops, CI).
Never used on GPU runs: the platform is registered by name but only selected with ``VERL_PLATFORM=cpu``
(``verl/plugin/platform/platform_manager.py:92``). The few verl functions that cannot run on CPU whatever the
platform says are wrapped in :mod:`verl_ccrl.integration.cpu.verl_patches`, only when this platform is selected.

Without a registered ``cpu`` platform verl silently falls back to ``nvidia`` (``platform_manager.py:114``) and
calls ``torch.cuda``. The platform below answers verl's ``torch.cuda``-style calls with CPU facts; its
``current_device()`` is ``"cpu"`` because verl moves modules with ``.to(get_device_id())``
(``verl/utils/fsdp_utils.py:507``), where an integer would mean ``cuda:0``.
"""

from __future__ import annotations

import logging
import os
import types
from contextlib import contextmanager
from typing import Any

import torch

logger = logging.getLogger(__name__)

PLATFORM_NAME = "cpu"
PLATFORM_ENV_VAR = "VERL_PLATFORM"
# Ray must still see logical GPUs: verl's resource pools hard-code ``use_gpu=True``
# (``verl/single_controller/ray/base.py:210``), so a CPU run declares ``ray_init.num_gpus`` and each
# worker "holds" one logical GPU.
RAY_RESOURCE_NAME = "GPU"


def cpu_platform_selected() -> bool:
    return os.environ.get(PLATFORM_ENV_VAR, "").strip().lower() == PLATFORM_NAME


def _host_memory_bytes() -> tuple[int, int]:
    """(available, total) host memory; stands in for ``torch.cuda.mem_get_info``."""
    try:
        import psutil

        memory = psutil.virtual_memory()
        return int(memory.available), int(memory.total)
    except ImportError:
        page_size = os.sysconf("SC_PAGE_SIZE")
        return os.sysconf("SC_AVPHYS_PAGES") * page_size, os.sysconf("SC_PHYS_PAGES") * page_size


class _CPUDeviceModule(types.ModuleType):
    """What ``get_torch_device()`` returns on the cpu platform: ``torch.cpu`` plus the ``torch.cuda`` calls verl makes.

    verl calls memory statistics (``verl/utils/memory_utils.py:47``, ``workers/engine_workers.py:219``), RNG state
    (``utils/checkpoint/checkpoint_manager.py:208``) and allocator/IPC helpers on the device module; host memory has
    no caching allocator, so the allocator counters are 0 and the cache calls do nothing. Anything else is looked up
    on ``torch.cpu``.
    """

    def __init__(self) -> None:
        super().__init__("verl_ccrl.integration.cpu.device")

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    # Device management: one logical device, which is the host.
    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def current_device() -> str:
        return "cpu"

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def set_device(device: Any) -> None:
        return None

    @staticmethod
    def synchronize(device: Any = None) -> None:
        return None

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return "CPU"

    @staticmethod
    def get_device_properties(device: Any = None) -> types.SimpleNamespace:
        return types.SimpleNamespace(name="CPU", total_memory=_host_memory_bytes()[1], major=None, minor=None)

    # Allocator: nothing is cached on the host.
    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def ipc_collect() -> None:
        return None

    @staticmethod
    def set_per_process_memory_fraction(fraction: float, device: Any = None) -> None:
        return None

    @staticmethod
    def memory_allocated(device: Any = None) -> int:
        return 0

    @staticmethod
    def memory_reserved(device: Any = None) -> int:
        return 0

    @staticmethod
    def max_memory_allocated(device: Any = None) -> int:
        return 0

    @staticmethod
    def max_memory_reserved(device: Any = None) -> int:
        return 0

    @staticmethod
    def reset_peak_memory_stats(device: Any = None) -> None:
        return None

    @staticmethod
    def reset_accumulated_memory_stats(device: Any = None) -> None:
        return None

    @staticmethod
    def mem_get_info(device: Any = None) -> tuple[int, int]:
        return _host_memory_bytes()

    # RNG: the host generator is the device generator.
    @staticmethod
    def get_rng_state(device: Any = None) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, device: Any = None) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def manual_seed(seed: int) -> None:
        torch.manual_seed(seed)

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        torch.manual_seed(seed)


CPU_DEVICE_MODULE = _CPUDeviceModule()


def _platform_base():
    from verl.plugin.platform import PlatformBase

    return PlatformBase


def _build_platform_class():
    """Defined lazily so importing this module does not import verl."""

    class PlatformCPU(_platform_base()):
        """verl platform for running on the host CPU (debugging backend, see module docstring)."""

        @property
        def device_name(self) -> str:
            return "cpu"

        @property
        def vendor_name(self) -> str:
            return "cpu"

        @property
        def device_module(self) -> types.ModuleType:
            return CPU_DEVICE_MODULE

        def is_available(self) -> bool:
            return True

        def is_platform_available(self, use_smi_check: bool = False) -> bool:
            # Auto-detection must never pick the CPU over a real accelerator; only VERL_PLATFORM=cpu selects it.
            return False

        def current_device(self) -> str:
            return "cpu"

        def device_count(self) -> int:
            return 1

        def set_device(self, device_index: int) -> None:
            return None

        def synchronize(self, device_index: int | None = None) -> None:
            return None

        def manual_seed(self, seed: int) -> None:
            torch.manual_seed(seed)

        def manual_seed_all(self, seed: int) -> None:
            torch.manual_seed(seed)

        def set_allocator_settings(self, settings: str) -> None:
            return None

        def empty_cache(self) -> None:
            return None

        def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
            return None, None

        def communication_backend_name(self) -> str:
            return "gloo"

        def visible_devices_envvar(self) -> str:
            # Ray sets it for actors holding a logical GPU; naming it keeps verl's bookkeeping consistent.
            return "CUDA_VISIBLE_DEVICES"

        @contextmanager
        def nvtx_range(self, msg: str):
            yield

        def profiler_start(self) -> None:
            return None

        def profiler_stop(self) -> None:
            return None

        def ray_resource_name(self) -> str:
            return RAY_RESOURCE_NAME

        def ray_noset_envvars(self) -> list[str]:
            return []

        def is_ipc_supported(self) -> bool:
            return False

        def cudart(self) -> Any:
            return None

    return PlatformCPU


_platform_class = None


def register_platform() -> type:
    """Register the ``cpu`` platform in verl's ``PlatformRegistry`` (idempotent); returns its class."""
    global _platform_class
    from verl.plugin.platform import PlatformRegistry

    if _platform_class is None:
        _platform_class = _build_platform_class()
    if PlatformRegistry.get(PLATFORM_NAME) is not _platform_class:
        PlatformRegistry.register(platform=PLATFORM_NAME)(_platform_class)
    return _platform_class
