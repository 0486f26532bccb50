"""Environment: the device, the software stack (each part may be absent), the peak for MFU, and
which fused kernels the run gets."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess

import torch

from megatron_sc2.model import transformer_engine_available
from megatron_sc2.model.fusions import fusion_switches, import_error, report
from megatron_sc2.training.flops import device_peak_tflops, local_device_name


def version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def driver_version() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, check=True, timeout=30)
        return out.stdout.split()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def run(section) -> None:
    on_gpu = torch.cuda.is_available()
    name = local_device_name()
    figures = section.figures
    figures["device"] = name
    if on_gpu:
        props = torch.cuda.get_device_properties(0)
        figures.update(gpus=torch.cuda.device_count(), gpu_memory_gib=round(props.total_memory / 2**30, 1),
                       compute_capability=f"{props.major}.{props.minor}", multiprocessors=props.multi_processor_count,
                       driver=driver_version(), cudnn=torch.backends.cudnn.version(),
                       nccl=".".join(map(str, torch.cuda.nccl.version())))
    figures.update(
        python=platform.python_version(), torch=torch.__version__, cuda=torch.version.cuda,
        megatron_core=version("megatron-core") or version("megatron_core"),
        transformer_engine=version("transformer_engine") or version("transformer-engine"),
        apex=None if import_error("apex") else (version("apex") or "present"),
        transformers=version("transformers"),
        peak_bf16_tflops=device_peak_tflops(name, bf16=True),
        layer_spec="TransformerEngine" if transformer_engine_available() else "local",
        kernels_full_attention=report(fusion_switches(on_gpu=on_gpu, sliding_window=False), sliding_window=False),
        kernels_sliding_window=report(fusion_switches(on_gpu=on_gpu, sliding_window=True), sliding_window=True),
    )
    section.check("megatron-core imports", figures["megatron_core"] is not None, str(figures["megatron_core"]))
    if on_gpu:
        section.check("device in the peak TFLOP/s table", figures["peak_bf16_tflops"] is not None,
                      f"{name}: {figures['peak_bf16_tflops']}")
        section.check("bf16 supported", torch.cuda.is_bf16_supported())
