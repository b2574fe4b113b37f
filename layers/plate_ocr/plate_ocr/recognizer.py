"""Plate recogniser: our own slot CNN, shipped as an EasyOCR custom network (``models/korplate.*``).

EasyOCR loads the network (``easyocr.Reader(..., recog_network="korplate")``: it imports
``korplate.py``, reads ``korplate.yaml``, loads ``korplate.pth`` and applies dynamic int8
quantisation on the CPU). We then run the loaded torch module directly with our own preprocessing,
because EasyOCR's ``recognize`` resizes and pads for free text, knows nothing of two-row plates and
returns no per-character confidences.

Two-row plates (regional yellow and old green ones) are read top row first: the crop is split
between its rows and the rows are put side by side (``[top | bottom]``) before the network reads
one line. The training code (``training/``) uses exactly :func:`to_model_input`, so training and
inference see the same transform; the input size and the second-look threshold are the model's
own (``korplate.yaml``, :mod:`plate_ocr.recognizer_config`). One-row and two-row plates cannot be
told apart by shape alone (a short one-row plate is as squarish as a two-row one), so a crop whose
aspect ratio is below :data:`TWO_ROW_MAX_ASPECT` is read one row first and, unless that reading is
already sure (:data:`SURE_LAYOUT`), two rows as well; the reading that passes the plate grammar,
then the more confident one, wins.

Heavy imports (numpy, cv2, torch, easyocr) happen inside functions and the constructor only.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plate_ocr.cpu import bf16_supported, optimise_for_cpu, precision
from plate_ocr.engines import RawReading
from plate_ocr.layout import TWO_ROW_MAX_ASPECT
from plate_ocr.recognizer_config import RecognizerConfig, configured, read_config

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

logger = logging.getLogger(__name__)


TOP_SHARE = 0.45

#: A squarish crop's one-row reading that passes the grammar with every character at this
#: probability or more is kept without reading the crop as two rows. Read in the wrong layout a
#: plate is noise: on 104 real train crops and 1,200 synthetic plates of every kind (545 squarish),
#: the losing layout's reading was never well-formed above a weakest character of 0.22, and no
#: winner changed with this rule. It spares one network pass (about 1 ms) on 80% of the real
#: squarish crops; a two-row plate pays about 0.5 ms more (two passes of one instead of one of two).
SURE_LAYOUT = 0.7
_SPLIT_BAND = (0.15, 0.65)


def _grey(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    import cv2

    if crop.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if crop.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        grey: Any = cv2.cvtColor(crop, code)
        return grey
    return crop


def split_row(grey: npt.NDArray[np.uint8]) -> int:
    """Returns the y between the two rows of a two-row plate crop.

    The gap is the deepest valley of vertical-stroke energy (per image row) that has text both above
    and below it, searched where plates put it (a sixth to two thirds of the height, depending on
    the kind and on how loose the crop is): a plain margin above the top row is no valley.
    """
    import cv2
    import numpy as np

    h = int(grey.shape[0])
    lo, hi = max(1, int(h * _SPLIT_BAND[0])), max(2, int(h * _SPLIT_BAND[1]))
    if hi - lo < 2:
        return h // 3
    gx = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3))
    w = grey.shape[1]
    # Ignore the outer columns: plate edges and bolts are vertical strokes that do not belong to a
    # row.
    prof = gx[:, int(w * 0.08) : max(int(w * 0.92), int(w * 0.08) + 1)].mean(axis=1)
    k = max(1, h // 25) * 2 + 1
    prof = np.convolve(prof, np.ones(k, np.float32) / k, mode="same")
    # A valley with text on both sides: margins above the top row have no text above them.
    above = np.maximum.accumulate(prof)
    below = np.maximum.accumulate(prof[::-1])[::-1]
    score = np.minimum(above, below) - prof
    return int(lo + int(np.argmax(score[lo:hi])))


def to_model_input(
    crop: npt.NDArray[np.uint8], two_row: bool, size: tuple[int, int] | None = None
) -> npt.NDArray[np.uint8]:
    """Turns a plate crop (BGR or grey uint8) into the network's grey input of ``size`` (height,
    width; by default the configured model's, :func:`plate_ocr.recognizer_config.configured`)."""
    import cv2
    import numpy as np

    img_h, img_w = configured().input_size if size is None else size
    grey: Any = _grey(crop)
    if grey.shape[0] < 4 or grey.shape[1] < 4:
        grey = cv2.resize(grey, (max(4, grey.shape[1]), max(4, grey.shape[0])))
    if two_row:
        y = split_row(grey)
        # The rows overlap a little: on a tilted plate a straight cut clips the edge of some glyphs.
        ov = max(1, round(grey.shape[0] * 0.04))
        top, bottom = grey[: y + ov], grey[max(0, y - ov) :]
        # Fixed shares of the width (about 4 characters on top, 5 below), whatever the rows' aspect.
        top_w = round(img_w * TOP_SHARE)
        rows = [
            cv2.resize(top, (top_w, img_h), interpolation=cv2.INTER_AREA),
            cv2.resize(bottom, (img_w - top_w, img_h), interpolation=cv2.INTER_AREA),
        ]
        grey = np.hstack(rows)
    interp = cv2.INTER_AREA if grey.shape[1] > img_w else cv2.INTER_LINEAR
    out = cv2.resize(grey, (img_w, img_h), interpolation=interp)
    # A contrast stretch removes most of the lighting differences between photos before the
    # network sees them.
    lo, hi = np.percentile(out, (2, 98))
    if hi - lo < 8:
        hi = lo + 8
    out = np.clip((out.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255)
    result: npt.NDArray[np.uint8] = out.astype(np.uint8)
    return result


def reframings(crop: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.uint8]]:
    """The crop framed tighter (5% of the height, 3% of the width off each side) and looser (the
    same margins added by replicating the border)."""
    import cv2

    h, w = crop.shape[:2]
    dy, dx = max(1, round(h * 0.05)), max(1, round(w * 0.03))
    tighter = crop[dy : h - dy, dx : w - dx] if h > 2 * dy + 4 and w > 2 * dx + 4 else crop
    looser: Any = cv2.copyMakeBorder(crop, dy, dy, dx, dx, cv2.BORDER_REPLICATE)
    return [tighter, looser]


def ctc_greedy(
    probs: npt.NDArray[np.float32], characters: list[str]
) -> tuple[str, list[float], list[tuple[int, int]]]:
    """Greedy CTC decode of one (time, classes) probability matrix (class 0 is the blank).

    Returns the text, one confidence per character (the peak probability of its run) and, per
    character, the (time step, class) of that peak, so a caller can look up runners-up.
    """
    best = probs.argmax(axis=1)
    text: list[str] = []
    confs: list[float] = []
    where: list[tuple[int, int]] = []
    prev = 0
    for t, c in enumerate(best.tolist()):
        if c != 0 and c != prev:
            text.append(characters[c])
            confs.append(float(probs[t, c]))
            where.append((t, c))
        elif c != 0 and c == prev and probs[t, c] > confs[-1]:
            confs[-1] = float(probs[t, c])
            where[-1] = (t, c)
        prev = c
    return "".join(text), confs, where


def _sequence_confidence(confs: list[float]) -> float:
    if not confs:
        return 0.0
    # The weakest character decides whether a plate string can be trusted; the mean alone hides one
    # bad glyph.
    return float(min(confs) ** 0.5 * (math.prod(confs) ** (1.0 / len(confs))) ** 0.5)


def _slot_templates(characters: list[str]) -> list[list[npt.NDArray[np.int64]]]:
    """Plate formats as slot templates: per position, the allowed class indices, one row each.

    A one-slot position allows single characters (rows of one); a two-slot word (a region or a
    diplomatic prefix) allows pairs (rows of two). Built from :data:`plate_ocr.grammar.FORMATS`,
    so the two never disagree.
    """
    import numpy as np

    from plate_ocr import grammar

    index = {c: i for i, c in enumerate(characters)}

    def position(slot: grammar.Slot) -> npt.NDArray[np.int64]:
        rows = [
            [index[c] for c in value] for value in slot.allowed if all(c in index for c in value)
        ]
        width = len(slot.allowed[0]) if slot.allowed else 1
        return np.array(rows, np.int64).reshape(-1, width)

    return [[position(slot) for slot in f.slots] for f in grammar.FORMATS]


def constrained_decode(
    slot_probs: npt.NDArray[np.float32], templates: list[list[npt.NDArray[np.int64]]]
) -> tuple[list[int], list[float], float]:
    """The most probable slot assignment that spells a well-formed plate.

    ``slot_probs`` is (slots, classes) with class 0 the empty slot; slots after the plate must be
    empty. Returns the class per character, their probabilities, and the total log-probability.
    Each position is scored for all its allowed values at once (numpy indexing: about 0.1 ms a
    crop, where a loop over the values took 1).
    """
    import numpy as np

    logp = np.log(np.clip(slot_probs, 1e-9, 1.0))
    n_slots = logp.shape[0]
    best: tuple[list[int], list[float], float] = ([], [], -np.inf)
    for template in templates:
        pos, total = 0, 0.0
        chosen: list[int] = []
        for allowed in template:
            width = allowed.shape[1]
            if pos + width > n_slots or not len(allowed):
                total = -np.inf
                break
            scores = logp[pos, allowed[:, 0]]
            for k in range(1, width):
                scores = scores + logp[pos + k, allowed[:, k]]
            j = int(scores.argmax())
            total += float(scores[j])
            chosen.extend(int(c) for c in allowed[j])
            pos += width
        if pos < n_slots:
            total += float(logp[pos:, 0].sum())
        if total > best[2]:
            probs = [float(slot_probs[i, c]) for i, c in enumerate(chosen)]
            best = (chosen, probs, float(total))
    return best


def _grammar_is_valid() -> Any:
    try:
        from plate_ocr import grammar
    except ImportError:
        return None
    return getattr(grammar, "is_valid", None)


class PlateRecognizer:
    """Reads one plate crop with the shipped network (an EasyOCR custom network).

    Built once per process (about 2 s with the imports); ``read`` takes under 10 ms per crop on one
    CPU thread. Torch's thread count is the caller's choice: one thread is faster on a shared
    2-core machine.
    """

    def __init__(
        self,
        model_dir: Path,
        network: str = "korplate",
        gpu: bool = False,
        quantize: bool = True,
        second_look_below: float | None = None,
        bf16: bool | None = None,
    ) -> None:
        """``second_look_below``: None for the model's own (its yaml's)."""
        import easyocr
        import torch

        self.model_dir = Path(model_dir)
        self.network = network
        if not (self.model_dir / f"{network}.pth").is_file():
            raise FileNotFoundError(self.model_dir / f"{network}.pth")
        self.config = read_config(self.model_dir, network)
        self.second_look_below = (
            self.config.second_look_below if second_look_below is None else second_look_below
        )
        started = time.perf_counter()
        with warnings.catch_warnings():
            # torch warns that its dynamic int8 quantisation (which EasyOCR applies) is deprecated.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\..*")
            self._reader = easyocr.Reader(
                ["ko"],
                gpu=gpu,
                detector=False,
                recognizer=True,
                recog_network=network,
                user_network_directory=str(self.model_dir),
                model_storage_directory=str(self.model_dir),
                download_enabled=False,
                verbose=False,
                quantize=quantize,
            )
        self._model: Any = self._reader.recognizer
        self._model.eval()
        self._device = torch.device(self._reader.device)
        if self._device.type == "cpu":
            optimise_for_cpu(self._model)
        #: bfloat16 convolutions: by default wherever the CPU runs them natively.
        self.bf16 = self._device.type == "cpu" and (bf16_supported() if bf16 is None else bf16)
        self.characters: list[str] = list(self._reader.converter.character)
        self._is_valid: Any = _grammar_is_valid()
        self._templates = self._load_templates()
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_module(
        cls,
        module: Any,
        characters: list[str],
        config: RecognizerConfig | None = None,
    ) -> PlateRecognizer:
        """A recogniser around an in-memory torch module (training-time evaluation) of the shape
        ``config`` says (by default the configured model's)."""
        import torch

        self = cls.__new__(cls)
        self.model_dir = Path()
        self.network = "in-memory"
        self.config = configured() if config is None else config
        self.second_look_below = self.config.second_look_below
        self._reader = None
        self._model = module
        self._device = torch.device("cpu")
        self.bf16 = False
        self.characters = list(characters)
        self._is_valid = _grammar_is_valid()
        self._templates = self._load_templates()
        self.load_seconds = 0.0
        return self

    def _load_templates(self) -> list[list[npt.NDArray[np.int64]]]:
        # Only a slot network's outputs are per-position distributions that templates can score.
        if not hasattr(self._model, "slot_logits"):
            return []
        try:
            return _slot_templates(self.characters)
        except (ImportError, AttributeError):
            return []

    def _infer(self, inputs: list[npt.NDArray[np.uint8]]) -> npt.NDArray[np.float32]:
        """(batch, time, classes) probabilities; a slot network's slots come interleaved with
        certain blanks, the layout EasyOCR's CTC decoding (and :func:`ctc_greedy`) expects."""
        import numpy as np
        import torch

        batch = np.stack(inputs).astype(np.float32)[:, None] / 127.5 - 1.0
        with torch.inference_mode(), precision(self.bf16):
            x = torch.from_numpy(batch).to(self._device)
            if self._device.type == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            if self._templates:
                slots = torch.softmax(self._model.slot_logits(x).float(), dim=2).cpu().numpy()
            else:
                ctc: npt.NDArray[np.float32] = (
                    torch.softmax(self._model(x, None).float(), dim=2).cpu().numpy()
                )
                return ctc
        probs = np.zeros((slots.shape[0], slots.shape[1] * 2, slots.shape[2]), np.float32)
        probs[:, 0::2] = slots
        probs[:, 1::2, 0] = 1.0
        return probs

    def _candidates(
        self,
        probs: npt.NDArray[np.float32],
        text: str,
        confs: list[float],
        where: list[tuple[int, int]],
    ) -> list[tuple[str, float]]:
        """Alternatives: each of the three least confident characters swapped for its runner-up."""
        out: list[tuple[str, float]] = []
        order = sorted(range(len(text)), key=lambda i: confs[i])[:3]
        for i in order:
            t, c = where[i]
            row = probs[t].copy()
            row[c] = -1.0
            row[0] = -1.0
            alt = int(row.argmax())
            if row[alt] <= 0.01:
                continue
            new_confs = list(confs)
            new_confs[i] = float(row[alt])
            alt_text = text[:i] + self.characters[alt] + text[i + 1 :]
            out.append((alt_text, _sequence_confidence(new_confs)))
        return out

    def read_both(self, crop: npt.NDArray[np.uint8]) -> list[RawReading]:
        """All readings tried for a crop: one row, and two rows as well when the crop is squarish
        and its one-row reading is not sure (:data:`SURE_LAYOUT`).

        When the best of them has a character below :attr:`second_look_below`, the crop is read
        again framed tighter and looser (:func:`reframings`) and the slot probabilities of the three
        framings are averaged per layout: a misread that hangs on where the crop's edges fall
        rarely survives a change of frame. Confident crops (most) pay for one pass only.
        """
        h, w = crop.shape[:2]
        if h < 4 or w < 4:
            return []
        size = self.config.input_size
        layouts = [False]
        probs = [self._infer([to_model_input(crop, False, size)])[0]]
        readings = [self._decode(probs[0])]
        if w / h < TWO_ROW_MAX_ASPECT and not self._sure(readings[0]):
            layouts.append(True)
            probs.append(self._infer([to_model_input(crop, True, size)])[0])
            readings.append(self._decode(probs[1]))
        best = max(
            range(len(readings)),
            key=lambda i: self._rank_key(readings[i].text, readings[i].confidence),
        )
        weakest = min(readings[best].char_confidences, default=0.0)
        if self.second_look_below > 0 and weakest < self.second_look_below:
            # Only the layout that won the first pass is looked at again: the second look costs
            # two inputs, not four, on squarish crops.
            two_row = layouts[best]
            extra = self._infer([to_model_input(f, two_row, size) for f in reframings(crop)])
            readings[best] = self._decode((probs[best] + extra.sum(axis=0)) / (1 + len(extra)))
        return readings

    def _sure(self, reading: RawReading) -> bool:
        """Well-formed with every character at :data:`SURE_LAYOUT` or more."""
        weakest = min(reading.char_confidences, default=0.0)
        return weakest >= SURE_LAYOUT and self._valid(reading.text)

    def _decode(self, p: npt.NDArray[np.float32]) -> RawReading:
        """One layout's (time, classes) probabilities as a reading with its candidates."""
        text, confs, where = ctc_greedy(p, self.characters)
        conf = _sequence_confidence(confs)
        cands = [(text, conf), *self._candidates(p, text, confs, where)]
        if self._templates and len(text) >= 4:
            # The slot network scores every position at once, so the best well-formed plate
            # under its probabilities is exact, not a guess: put it first.
            classes, c_probs, _ = constrained_decode(p[0::2], self._templates)
            fixed = "".join(self.characters[c] for c in classes)
            if fixed and fixed != text:
                fixed_conf = _sequence_confidence(c_probs)
                cands.insert(0, (fixed, fixed_conf))
                text, conf, confs = fixed, fixed_conf, c_probs
        return RawReading(text, conf, tuple(confs), tuple(cands))

    def _valid(self, text: str) -> bool:
        """Whether ``text`` is a well-formed plate (everything is, without the grammar)."""
        return bool(self._is_valid(text)) if self._is_valid is not None else True

    def _rank_key(self, text: str, score: float) -> tuple[bool, float]:
        return (self._valid(text), score)

    def read(self, crop: npt.NDArray[np.uint8]) -> RawReading | None:
        """Reads one plate crop (BGR or grey uint8); ``None`` when nothing legible is there."""
        readings = [r for r in self.read_both(crop) if r.text]
        if not readings:
            return None
        best = max(readings, key=lambda r: self._rank_key(r.text, r.confidence))
        pool: dict[str, float] = {}
        for r in readings:
            for text, score in r.candidates:
                if text and score > pool.get(text, -1.0):
                    pool[text] = score
        ranked = sorted(pool.items(), key=lambda kv: self._rank_key(*kv), reverse=True)
        ranked = [(best.text, best.confidence)] + [kv for kv in ranked if kv[0] != best.text]
        return RawReading(best.text, best.confidence, best.char_confidences, tuple(ranked[:5]))
