"""Training code for the plate recogniser shipped in ``models/`` (not part of the runtime image).

Modules:
    charset: the alphabet (from :mod:`plate_ocr.grammar`) grouped for composing plates.
    synth: the synthetic plate generator (``python -m training.synth`` writes a contact sheet).
    dataset: shards of pre-rendered synthetic plates, and the real ``train`` split with
    augmentation. train: ``python -m training.train`` trains from scratch (or ``--resume``) and
    exports. export: writes ``models/korplate.{pth,yaml}`` (EasyOCR custom-network format) from a
    checkpoint. evaluate: ``python -m training.evaluate`` scores the shipped model on the real
    ``val`` crops.

The network (``models/korplate.py``, ``head: slots``) is a small CNN (1.26 M parameters, 2.5 MB
in float16) that classifies the 9 character positions of a plate at once and returns them
interleaved with blanks, so EasyOCR's CTC decoding reads it. A CRNN (``head: crnn``) is kept in the
same file; on this CPU budget it sat on the CTC plateau (0% exact after 2,000 steps) where the slot
network reached 45%.

Two-row plates are split between their rows and read as ``[top | bottom]``; squarish crops are read
both ways, and the training data teaches the wrong layout to read as nothing (``NEGATIVE_P``).

Reproducing the shipped model (``make train``): a main run, then a short fine-tune with half of
every batch from the real ``train`` split, which exports into ``models/``::

    .venv/bin/python -m training.train --no-export   # render shards, 8000 steps (add --resume)
    .venv/bin/python -m training.train --run runs/korplate-ft --init runs/korplate/last.pt \
        --no-render --steps 1200 --lr 3e-4 --real-frac 0.5 --seed 99 --eval-every 400
    .venv/bin/python -m training.evaluate            # val accuracy and latency of models/

On the shared 2-core CPU the main run took about 75 minutes (0.5-0.6 s per step of 48, beside the
two shard renderers) and the fine-tune about 11 minutes. The shipped run was interrupted and
resumed with changed settings on the way (schedule re-timed, real share raised from 0.15 to 0.4,
generator improved while its shards were rendering); the defaults above are that recipe cleaned
up, so a rerun gives an equivalent model, not a bit-identical one.

Assets are read from ``../shared/plate-assets`` and ``../shared/datasets/kr-plates``
(``PLATE_ASSETS`` and ``PLATE_DATASET`` override), and Korean fonts from Debian's ``fonts-nanum`` /
``fonts-noto-cjk``.
Only the ``train`` split is trained on; ``val`` is read for measurement only.
"""
