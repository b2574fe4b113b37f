"""Training code for the plate recogniser shipped in ``models/`` (not part of the runtime image).

Modules:
    charset: the alphabet (from :mod:`plate_ocr.grammar`) grouped for composing plates.
    synth: the synthetic plate generator (``python -m training.synth`` writes a contact sheet).
    dataset: shards of pre-rendered synthetic plates, and the real ``train`` split with
    augmentation. train: ``python -m training.train`` trains from scratch (or ``--resume``) and
    exports. export: writes ``models/korplate.{pth,yaml}`` (EasyOCR custom-network format) from a
    checkpoint. evaluate: ``python -m training.evaluate`` scores the shipped model on the real
    ``val`` crops.

Reproducing the shipped model (``make train``)::

    .venv/bin/python -m training.train          # renders shards, trains, exports into models/
    .venv/bin/python -m training.train --resume # continues an interrupted run from
    runs/korplate/last.pt .venv/bin/python -m training.evaluate # val accuracy and latency of
    models/

Assets are read from ``../shared/plate-assets`` and ``../shared/datasets/kr-plates``
(``PLATE_ASSETS`` and ``PLATE_DATASET`` override), and Korean fonts from Debian's ``fonts-nanum`` /
``fonts-noto-cjk``. Only the ``train`` split is trained on; ``val`` is read for measurement only.
"""
