"""plate-ocr: reads South Korean licence plates from photos.

Importing this package stays cheap: torch, cv2, easyocr, numpy and google.genai are imported
only when an engine is built (see :mod:`plate_ocr.factory`).
"""

from plate_ocr.errors import (
    ImageTooLargeError,
    InvalidImageError,
    ModelUnavailableError,
    PlateOcrError,
    UnsupportedMediaTypeError,
)
from plate_ocr.results import (
    STAGE_LABELS,
    Candidate,
    CharConfidence,
    OcrResult,
    PlateRead,
    Stage,
)

__version__ = "0.1.0"

__all__ = [
    "STAGE_LABELS",
    "Candidate",
    "CharConfidence",
    "ImageTooLargeError",
    "InvalidImageError",
    "ModelUnavailableError",
    "OcrResult",
    "PlateOcrError",
    "PlateRead",
    "Stage",
    "UnsupportedMediaTypeError",
    "__version__",
]
