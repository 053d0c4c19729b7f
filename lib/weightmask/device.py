"""Device selection by name: ``auto`` picks CUDA when present."""
from __future__ import annotations

import re

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> cuda if available else cpu; a clear error for unknown or missing devices.

    A CUDA device is checked here (a GPU exists, the index is below the GPU count), because
    torch itself fails only at first use, with an AssertionError from deep inside.
    """
    allowed = "'auto', 'cpu', 'cuda' or 'cuda:N' (N the index of a GPU)"
    if isinstance(device, torch.device):
        if device.type != "cuda":
            return device
        name = str(device)
    elif isinstance(device, str):
        name = device
    else:
        raise ValueError(f"unknown device {device!r}: device must be {allowed}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if match is None:
        raise ValueError(f"unknown device {device!r}: device must be {allowed}")
    if not torch.cuda.is_available():
        raise ValueError(f"device={device!r} requested but no CUDA GPU is available (torch "
                         f"{torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); device must be "
                         f"{allowed}, and on this machine 'cpu' or 'auto'")
    count = torch.cuda.device_count()
    if match.group(1) is not None and int(match.group(1)) >= count:
        raise ValueError(f"device={device!r} requested but this machine has {count} CUDA GPU(s), "
                         f"cuda:0 to cuda:{count - 1}; device must be {allowed}")
    return torch.device(name)
