"""Importing the domain package must not pull in the heavy engine libraries (Lambda cold start)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "cv2", "easyocr", "numpy", "google.genai")

PROBE = f"""
import json, sys
import plate_ocr, plate_ocr.grammar, plate_ocr.results, plate_ocr.engines, plate_ocr.config
import plate_ocr.errors
print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))
"""


def test_importing_plate_ocr_loads_none_of_the_heavy_libraries() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []
