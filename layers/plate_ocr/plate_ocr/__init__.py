"""plate-ocr: reads South Korean licence plates from photos.

Importing this package stays cheap: torch, cv2, easyocr, numpy and google.genai are imported
only when an engine is built (see :mod:`plate_ocr.lifecycle`).
"""

from plate_ocr.errors import (
    ImageTooLargeError,
    InvalidImageError,
    ModelUnavailableError,
    PlateOcrError,
    UnsupportedMediaTypeError,
)
from plate_ocr.results import (
    Candidate,
    CharConfidence,
    OcrResult,
    PlateRead,
    Stage,
    Stage2Status,
    StageLabel,
)

__version__ = "0.1.0"

__all__ = [
    "Candidate",
    "CharConfidence",
    "ImageTooLargeError",
    "InvalidImageError",
    "ModelUnavailableError",
    "OcrResult",
    "PlateOcrError",
    "PlateRead",
    "Stage",
    "Stage2Status",
    "StageLabel",
    "UnsupportedMediaTypeError",
    "__version__",
]
