"""The batch convention for several photos of one vehicle: a ``.burst/`` folder and its manifest.

A gate camera's frames of one vehicle go into a folder whose name ends in ``.burst``, under
``incoming/``; then a ``manifest.json`` in that folder names them, in order::

    incoming/gate-3/2024-05-01T08-15-02.burst/0.jpg
    incoming/gate-3/2024-05-01T08-15-02.burst/1.jpg
    incoming/gate-3/2024-05-01T08-15-02.burst/manifest.json   {"frames": ["0.jpg", "1.jpg"]}

The frames alone are not read (they arrive one by one, and a burst is read whole); the manifest,
written last, starts one read of all its frames, voted into one plate, with its result where every
object's goes: ``results/gate-3/2024-05-01T08-15-02.burst/manifest.json.json``. Frame names are
plain file names inside the folder (no ``/``, no ``..``): a manifest cannot name other objects.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from plate_ocr.errors import InvalidManifestError
from plate_ocr.upload import MAX_FRAMES

#: A folder of one vehicle's frames ends with this.
FOLDER_SUFFIX = ".burst"
#: The object in such a folder that lists the frames and starts their read.
MANIFEST_NAME = "manifest.json"
#: A manifest is a short list of names.
MAX_MANIFEST_BYTES = 16 * 1024


class BurstManifest(BaseModel):
    """``manifest.json`` of a ``.burst/`` folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    frames: list[str] = Field(min_length=1, max_length=MAX_FRAMES)

    @field_validator("frames")
    @classmethod
    def _plain_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or "/" in name or name in (".", "..") or name == MANIFEST_NAME:
                raise ValueError(f"{name!r} is not a frame file name in the burst folder")
        return names


def folder_of(key: str) -> str | None:
    """The ``.burst/`` folder (with its slash) an object lies directly in, or None."""
    folder, _, _name = key.rpartition("/")
    return f"{folder}/" if folder.endswith(FOLDER_SUFFIX) else None


def is_manifest(key: str) -> bool:
    """Whether ``key`` is the manifest of a burst folder (whose creation starts the read)."""
    return folder_of(key) is not None and key.rsplit("/", 1)[-1] == MANIFEST_NAME


def is_frame(key: str) -> bool:
    """Whether ``key`` is a frame of a burst folder (read with its manifest, never alone)."""
    return folder_of(key) is not None and not is_manifest(key)


def frame_keys(manifest_key: str, data: bytes) -> list[str]:
    """The keys of the frames a manifest names, in its order.

    Raises:
        InvalidManifestError: the manifest is too large, not JSON, or not ``{"frames": [...]}``.
    """
    folder = folder_of(manifest_key)
    if folder is None:
        raise InvalidManifestError(f"{manifest_key} is not in a {FOLDER_SUFFIX}/ folder.")
    if len(data) > MAX_MANIFEST_BYTES:
        raise InvalidManifestError(f"The manifest is over {MAX_MANIFEST_BYTES} bytes.")
    try:
        manifest = BurstManifest.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise InvalidManifestError(
            f'The manifest must be {{"frames": [1 to {MAX_FRAMES} file names in its folder]}}.'
        ) from exc
    return [folder + name for name in manifest.frames]
