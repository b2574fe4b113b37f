"""Plate layout facts shared by the recogniser and the plate classifier (imports nothing)."""

from __future__ import annotations

TWO_ROW_MAX_ASPECT = 3.0
"""Crops narrower than this (width / height) may be two-row plates: the recogniser reads them both
as one row and as two rows, and only they can be old green plates told by their light characters.
A short one-row plate is as squarish, so shape alone never decides the layout."""
