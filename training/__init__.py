"""Training code for the plate recogniser shipped in ``models/`` (not part of the runtime image).

Modules:
    charset: the alphabet (from :mod:`plate_ocr.grammar`) grouped for composing plates.
    synth: the synthetic plate generator (``python -m training.synth`` writes a contact sheet).
    dataset: shards of pre-rendered synthetic plates, and the real ``train`` split with
    augmentation. train: ``python -m training.train`` trains from scratch (or ``--resume``) and
    exports. export: writes ``models/korplate.{pth,yaml}`` (EasyOCR custom-network format) from a
    checkpoint. evaluate: ``python -m training.evaluate`` scores the shipped model on the real
    dev crops (``--split val``: the val crops).

The network (``models/korplate.py``, ``head: slots``) is a small CNN (2.66 M parameters, 5.3 MB
in float16; ``hidden: 384``, ``last_pool_w: 1``) that classifies the 9 character positions of a
plate at once and returns them interleaved with blanks, so EasyOCR's CTC decoding reads it. A CRNN
(``head: crnn``) is kept in the same file; on a CPU budget it sat on the CTC plateau (0% exact after
2,000 steps) where the slot network reached 45%.

Two-row plates are split between their rows and read as ``[top | bottom]``; squarish crops are read
both ways, and the training data teaches the wrong layout to read as nothing (``NEGATIVE_P``).

Reproducing the shipped model (``make train``, which has every command): a main run on synthetic
plates only, then short fine-tunes with part of every batch from the real ``train`` split; the
last one (2026-12-01) on a pool whose white plates carry emblem strips (``synth.STRIP_P``) and with
the confident plates of the unlabelled photos' train part (``training.pseudo texts``), after
which the calibration is refitted::

    .venv/bin/python -m training.train --no-export   # render 185 shards, 28006 steps of 128
    .venv/bin/python -m training.train --run runs/korplate-ft --init runs/korplate/last.pt \
        --no-render --steps 1200 --warmup 96 --batch 48 --lr 3e-4 --real-frac 0.5 --seed 99
    ...                                              # ft2, then the strip fine-tune: Makefile
    .venv/bin/python -m training.evaluate            # dev accuracy and latency of models/

The shipped main run went on a lent H200 GPU: 13 renderer processes (``python -m training.dataset``)
on its CPU cores beside ``python -m training.train --no-render --min-shards 13
--fit-seconds 390``; the schedule settled on 28006 steps of 12-13 ms (7.3 minutes) and the pool grew
from 26,000 to 366,000 plates meanwhile. A second trainer shared the GPU (batch 256, 18,665 steps;
it scored lower and was not shipped). On this 2-core CPU the same steps are estimated at about 12
hours (1.5 s a step measured; not run end to end), resumable with ``--resume``. The fine-tune ran on
the 2-core CPU in 11 minutes with its synthetic half from 6 shards. All those shards were rendered
before the generator's number rules were tightened (a three-digit class never starts with 0, no
region on military plates): about 10% of their 8-character labels and 2% of their yellow ones are
not issuable numbers. A rerun gives an equivalent model, not a bit-identical one: which shards exist
at which step depends on the machine.

Assets are read from ``../shared/plate-assets`` and ``../shared/datasets/kr-plates``
(``PLATE_ASSETS`` and ``PLATE_DATASET`` override), and Korean fonts from Debian's ``fonts-nanum`` /
``fonts-noto-cjk``.
Only the ``train`` split is trained on; ``val`` is read for measurement only.
"""
