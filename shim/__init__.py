"""``nvidia-container-runtime``: the low-level runtime shim (spec/container-runtime.md)."""
