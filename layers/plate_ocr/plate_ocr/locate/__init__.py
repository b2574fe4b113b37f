"""Finding plates in photos: the learned detector, the tight-crop shortcut, and rectification.

Modules:
    net: the detector's network (MobileNetV3-Small backbone, FPN, keypoint head).
    detector: :class:`~plate_ocr.locate.detector.PlateDetector`, the shipped network's inference.
    crops: whether a photo is itself a tight plate crop (classical, under a millisecond).
    geometry: corner order, quad measures and overlap, rectification of a plate for reading.

Three finders put them together behind :class:`plate_ocr.engines.Locator`, asked in this order
while no confident plate has been read: :class:`PlateFinder` (every photo), :class:`CloseFinder`
(large photos, on a larger canvas) and :class:`CropFinder` (small photos, inside a margin). Heavy
imports (cv2, numpy, torch) happen when a finder is built or used, not when this package is
imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, overload

from plate_ocr.config import Settings
from plate_ocr.engines import Locator, PlateRegion
from plate_ocr.locate.geometry import rectify
from plate_ocr.results import Quad

if TYPE_CHECKING:
    import numpy.typing as npt

    from plate_ocr.locate.detector import Detection, PlateDetector

    Image = npt.NDArray[Any]

__all__ = ["CloseFinder", "CropFinder", "PlateFinder", "TiltFinder", "finder_chain", "last_resort"]

#: Regions a finder returns unless told (``PLATE_OCR_MAX_REGIONS`` reaches it through the pipeline).
MAX_REGIONS: int = Settings.model_fields["max_regions"].default


def finder_chain(detector: PlateDetector, max_regions: int) -> list[Locator]:
    """The finders the pipeline asks, in order: the next only while no confident plate is read.

    On the dev split (first-round detector) the close look read one more scene and the crop look
    two more crops, with no wrong answer added. The calibration (``training.calibrate``) is fitted
    on the first finder's readings (``--chain``: on the readings of every finder of this chain).
    """
    return [
        PlateFinder(detector, max_regions=max_regions),
        CloseFinder(detector, max_regions=max_regions),
        CropFinder(detector, max_regions=max_regions),
    ]


def last_resort(detector: PlateDetector, max_regions: int) -> list[Locator]:
    """The looks the pipeline asks only when :func:`finder_chain`'s listed no plate at all: the
    tilted look (:class:`TiltFinder`)."""
    return [TiltFinder(detector, max_regions=max_regions)]


class _DetectorFinder:
    """What both finders share: the detector, their limits, and turning detections into regions."""

    def __init__(
        self, detector: PlateDetector, *, max_regions: int = MAX_REGIONS, crop_height: int = 64
    ):
        self.detector = detector
        self.max_regions = max_regions
        self.crop_height = crop_height

    def _regions(self, image: Image, found: list[Detection]) -> list[PlateRegion]:
        """The best detections, overlapping ones merged, each with its crop from ``image``."""
        from plate_ocr.locate.detector import suppress

        return [
            PlateRegion(
                box=d.quad,
                crop=rectify(image, d.quad, self.crop_height),
                score=d.score,
                frames=_Frames(image, d.quad, self.crop_height),
            )
            for d in suppress(found, self.max_regions)
        ]


#: The side margins (shares of the plate's width; the first crop has 0.05) of each detected
#: plate's wider crops, read by :func:`plate_ocr.pipeline.reframe`. On the dev split's true corners
#: a frame at 0.09 reads the same plate for 182 of 184 right readings and 6 of 82 wrong ones. With
#: the corners moved as a detector errs (an edge 4-8% in or out, 333 frames of the dev plates) the
#: first crop alone read 94.0% and gave 3 wrong answers; the majority of three frames at 0.09 and
#: 0.14 reads 97.9% with 4 (at 0.12 and 0.18: 98.8% and 1, but the calibration then kept two wrong
#: dev answers, so not taken).
FRAME_MARGINS = (0.09, 0.14)


class _Frames(Sequence["Image"]):
    """A detected plate's wider crops (:data:`FRAME_MARGINS`), each cut when it is asked for: the
    pipeline checks a look's two surest readings only, and the second frame only when the first
    disagrees, so most detections (a look lists up to 8) never need theirs."""

    def __init__(self, image: Image, quad: Quad, crop_height: int) -> None:
        self._image, self._quad, self._crop_height = image, quad, crop_height

    def __len__(self) -> int:
        return len(FRAME_MARGINS)

    @overload
    def __getitem__(self, index: int) -> Image: ...

    @overload
    def __getitem__(self, index: slice) -> list[Image]: ...

    def __getitem__(self, index: int | slice) -> Image | list[Image]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return rectify(self._image, self._quad, self._crop_height, FRAME_MARGINS[index])


class PlateFinder(_DetectorFinder):
    """Finds the plates of a BGR photo; implements :class:`plate_ocr.engines.Locator`.

    A photo that is a tight plate crop already (:func:`plate_ocr.locate.crops.crop_score`) is
    returned whole, alone. Any other photo goes to the detector: each plate it scores at or above
    its threshold becomes a region with its 4 corners, its score and a rectified crop cut from the
    full-resolution photo. A small, plate-shaped photo (a loose crop, most likely) is also looked
    at with a wide grey margin around it (:data:`CROP_PAD`): scaled to the canvas, a plate that
    fills the photo is far larger than any the detector learned, and it finds a piece of it (the
    serial alone); with room around it, it is an ordinary plate. The two looks' plates are merged,
    the surer of two overlapping ones kept. Nothing else is ever a region: no whole-photo guesses.

    Args:
        detector: The learned detector.
        max_regions: At most this many plates per photo.
        crop_height: Height of rectified one-row crops (squarish ones are twice as high).
    """

    def locate(self, image: Image) -> list[PlateRegion]:
        """Plate regions of a photo, best first."""
        from plate_ocr.locate.crops import MIN_SCORE, crop_score

        image = as_bgr(image)
        if not usable(image):
            return []
        score = crop_score(image)
        if score is not None and score >= MIN_SCORE:
            return [whole_photo(image, score)]
        found = self.detector.detect(image, max_plates=self.max_regions)
        if _crop_like(image):
            found += self.detector.detect(
                image, max_plates=self.max_regions, pad=CROP_PAD, zoom=CROP_PAD_ZOOM
            )
        return self._regions(image, found)


#: The grey margin (times the photo's size, each side) of the second look at a crop-like photo.
CROP_PAD = 1.0
#: ... on a canvas this much smaller than the first look's (256x192: a quarter of the work). In the
#: margin a loose crop's plate is a third of the canvas wide, 85 px here, a size the detector saw
#: often in training; on the full canvas (170 px) it found fewer. Chosen on 297 crops cut from the
#: dev split (the 31 dev crops, the dev scenes' plates with margins of 0.1-2 plate widths, and
#: shrunk): 277 right / 2 wrong in 37 ms at the median on the full canvas, 283 / 1 in 29 ms here
#: (zoom 0.75: 278 / 4; 0.375: 281 / 2).
CROP_PAD_ZOOM = 0.5


def _crop_like(image: Image) -> bool:
    """A photo small and plate-shaped enough to be a crop around one plate."""
    from plate_ocr.locate.crops import ASPECT_RANGE, MAX_SIDE

    h, w = int(image.shape[0]), int(image.shape[1])
    return max(h, w) <= 2 * MAX_SIDE and 0.8 * ASPECT_RANGE[0] <= w / h <= ASPECT_RANGE[1]


class CloseFinder(_DetectorFinder):
    """A closer look for small plates: the detector on a canvas :data:`CLOSE_ZOOM` to
    :data:`CLOSE_MAX_ZOOM` times larger (:func:`close_zoom`).

    The detector sees a whole photo scaled to its canvas (512 px wide), where a plate 100 px wide
    in a 1600 px photo is 32 px; on the close canvas (1536 px for that photo) it is 96 px. Photos
    no more than a quarter larger than the first canvas (:data:`CLOSE_MIN_SIDE`) gain little and
    are left alone (small photos get the crop look). The pipeline asks it only when the
    whole-photo pass read no confident plate.
    """

    def locate(self, image: Image) -> list[PlateRegion]:
        """Plate regions found on the close canvas, best first."""
        image = as_bgr(image)
        h, w = image.shape[:2]
        long = self.detector.config.input_long
        if not usable(image) or max(h, w) < CLOSE_MIN_SIDE * long:
            return []
        zoom = close_zoom(h, w, long)
        least = self.detector.config.min_score
        if zoom > CLOSE_ZOOM:
            least = max(least, ZOOMED_MIN_SCORE)
        found = self.detector.detect(image, max_plates=self.max_regions, zoom=zoom, min_score=least)
        return self._regions(image, found)


def close_zoom(height: int, width: int, input_long: int) -> float:
    """The close look's zoom for a photo: :data:`CLOSE_ZOOM`, or more for a photo whose own
    resolution fills a larger canvas (its long side over the first canvas's), up to
    :data:`CLOSE_MAX_ZOOM`. The photo is never scaled up further than the least zoom does."""
    return min(CLOSE_MAX_ZOOM, max(CLOSE_ZOOM, max(height, width) / input_long))


#: How much larger than the first look's canvas the close look's is at least (4 times the work).
#: Chosen with the first-round detector on the dev scenes shrunk into larger photos (plates 0.3 /
#: 0.4 / 0.55 of their size; right answers of 37): 2 x 2 tiles 5 / 15 / 30, zoom 1.75 9 / 18 / 29,
#: zoom 2 11 / 22 / 32 in 90% of the tiles' time; zoom 2.5 read 15 and 37 of the smallest and
#: largest but took 30% longer.
CLOSE_ZOOM = 2.0
#: ... and at most (1536x1152, 9 times the work: 118 ms against 61 ms at zoom 2 in one run
#: here), for photos of 1536 px and more at their own resolution. Chosen with the third-round
#: detector on the dev scenes shrunk into 1700x1300 photos (plates at 0.4 and 0.3 of their size;
#: right / wrong of 37): zoom 2 24 / 3 and 11 / 1, zoom 2.5 30 / 2 and 15 / 4, zoom 3 31 / 1 and
#: 21 / 3. On the 800-1000 px photos zoom 3 (an upscaled canvas) changed one answer either way, so
#: they keep zoom 2.
CLOSE_MAX_ZOOM = 3.0
#: On a canvas zoomed past :data:`CLOSE_ZOOM` the detector fires more on things that are not
#: plates (a second find on 8 of 16 synthetic 37.5 MP clutter photos with one plate at zoom 3, 6
#: of them at 0.51-0.55, against 1 at zoom 2, at 0.62; a photo watermark at 0.56 on a night copy
#: of a dev scene), so a find there scores at least this. The dev composites above read the same
#: with it (every answer found there scored more).
ZOOMED_MIN_SCORE = 0.6
#: The close look's smallest photo, in first canvases (1.25: 640 px). With the dev scenes shrunk
#: into 960x720, 800x600 and 1000x750 photos (plates at 0.5, 0.6, 0.4 of their size), looking
#: from 640 px rather than from 1024 px read 32 / 33 / 30 of 37 instead of 24 / 26 / 19, with
#: 3 / 3 / 4 wrong answers instead of 3 / 2 / 2.
CLOSE_MIN_SIDE = 1.25


class CropFinder(_DetectorFinder):
    """A last look at a small photo (a crop around a plate, most likely) that gave no confident
    plate: the detector inside a grey margin as wide as the photo, whatever its shape (a squarish
    crop around a two-row plate too), and, when the photo is plate-shaped and looks at least
    somewhat like a tight crop (:data:`LOOSE_CROP_SCORE`), the whole photo as one more region.
    The pipeline asks it only after the other finders read no confident plate.
    """

    def locate(self, image: Image) -> list[PlateRegion]:
        """Plate regions of a small photo, best first; none for a large one."""
        from plate_ocr.locate.crops import MAX_SIDE, crop_score

        image = as_bgr(image)
        h, w = image.shape[:2]
        if not usable(image) or max(h, w) > 2 * MAX_SIDE:
            return []
        found = self.detector.detect(image, max_plates=self.max_regions, pad=CROP_PAD)
        regions = self._regions(image, found)
        score = crop_score(image)
        if score is not None and score >= LOOSE_CROP_SCORE:
            regions.append(whole_photo(image, score))
        return regions


#: A plate-shaped small photo scoring this as a tight crop is also read whole by the last look.
LOOSE_CROP_SCORE = 0.5


def whole_photo(image: Image, score: float) -> PlateRegion:
    """The whole photo as one region: the only whole-photo box, for a photo that is a plate crop."""
    h, w = image.shape[:2]
    whole = ((0.0, 0.0), (w - 1.0, 0.0), (w - 1.0, h - 1.0), (0.0, h - 1.0))
    return PlateRegion(box=whole, crop=image, score=score, whole=True)


def usable(image: Image) -> bool:
    """A 3-channel image of at least 8 x 8 pixels."""
    return image.ndim == 3 and image.shape[2] == 3 and image.shape[0] >= 8 and image.shape[1] >= 8


def as_bgr(image: Image) -> Image:
    """Grey and BGRA photos as BGR, so every path sees three channels."""
    import cv2

    out: Image = image
    if image.ndim == 2 and image.size:
        out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4 and image.size:
        out = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return out


class TiltFinder(_DetectorFinder):
    """A look for plates tilted past what the detector learned: the photo turned by each of
    :data:`TILT_ANGLES` (on a canvas that holds all of it), the detector on each, and each plate's
    corners mapped back into the photo, where its crop is cut as any other's.

    The detector frames plates tilted up to about 30 degrees; at 40 degrees it found few. On the
    37 dev scenes turned by 35 and 40 degrees either way (148 photos) the pipeline answered 87
    right and 3 wrong without this look, 102 right and 3 wrong with it. Turning a photo also makes
    plate-like things of what is not a plate (a photo watermark read at 0.11 on a night copy), so
    the pipeline asks this look only when the others listed no plate, and keeps a reading of it
    only when it is sure (:data:`plate_ocr.pipeline.LAST_RESORT_MIN_CONFIDENCE`).
    """

    def locate(self, image: Image) -> list[PlateRegion]:
        """Plate regions found on the turned copies, best first."""
        import cv2

        from plate_ocr.locate.detector import Detection
        from plate_ocr.locate.geometry import map_quad, rotated

        image = as_bgr(image)
        if not usable(image):
            return []
        # The detector sees a 512 px canvas: a 40 MP photo is turned at the size it needs, not
        # whole (the crops are still cut from the full-resolution photo).
        h, w = image.shape[:2]
        scale = min(1.0, TILT_WORK_SIDE / max(h, w))
        work = image
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            work = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        found: list[Detection] = []
        for degrees in TILT_ANGLES:
            canvas, back = rotated(work, degrees)
            for d in self.detector.detect(canvas, max_plates=self.max_regions):
                quad = map_quad(d.quad, back)
                full = tuple((x / scale, y / scale) for x, y in quad)
                found.append(Detection((full[0], full[1], full[2], full[3]), d.score))
        return self._regions(image, found)


#: The turns of the tilted look, in degrees (anticlockwise): a plate tilted 40 degrees is 10
#: degrees from level on one of them. Chosen on the dev scenes turned by +-15 to +-40 degrees.
TILT_ANGLES = (30.0, -30.0)
#: The longest side a photo is turned at (larger ones are scaled down first). Turned at 1024 px
#: the dev scenes turned by 35 and 40 degrees gave 2 more wrong answers (101 right, 5 wrong)
#: than at their own size (1160 px: 102 right, 3 wrong).
TILT_WORK_SIDE = 2048
