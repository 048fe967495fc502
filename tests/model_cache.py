"""What a test may find in the model cache after running the SDK without fetching anything."""

from __future__ import annotations

from pathlib import Path


def fetched_files(cache: Path) -> list[str]:
    """Files in ``cache`` other than the models derived on this machine from a shipped file
    (``derived/``: the landmark model without its segmentation decoder,
    blazepose_sdk.assets.derived): a non-empty list means something was downloaded."""
    if not cache.exists():
        return []
    files = [p.relative_to(cache) for p in cache.rglob("*") if p.is_file()]
    return sorted(str(p) for p in files if p.parts[0] != "derived")
