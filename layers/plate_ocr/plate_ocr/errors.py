"""Typed errors of the reading pipeline; handlers map each to one HTTP status."""


class PlateOcrError(Exception):
    """Base of every error plate_ocr raises on purpose."""

    code = "plate_ocr_error"
    http_status = 500


class InvalidImageError(PlateOcrError):
    """The bytes are empty, corrupt, or not an image at all."""

    code = "invalid_image"
    http_status = 400


class ImageTooLargeError(PlateOcrError):
    """The file is over the byte limit or the image over the pixel limit."""

    code = "image_too_large"
    http_status = 413


class UnsupportedMediaTypeError(PlateOcrError):
    """A real image, but in a format we do not read (GIF, BMP, TIFF, HEIC ...)."""

    code = "unsupported_media_type"
    http_status = 415


class ModelUnavailableError(PlateOcrError):
    """The models cannot be loaded (missing files, broken install)."""

    code = "model_unavailable"
    http_status = 503
