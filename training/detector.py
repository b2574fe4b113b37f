"""Trains the plate detector (``python -m training.detector``) and exports it into ``models/``.

What it does, in order:

1. builds the network of :mod:`plate_ocr.locate.net` from scratch (no downloaded weights);
2. trains it on patches from :mod:`training.scenes` (synthetic plates composited into the
   self-training split of the unlabelled real photos, whose own plates are labelled in
   ``training/data/scene_labels.json``), with a CenterNet focal loss on the heat map and an L1
   loss on the corners; AdamW and a one-cycle schedule;
3. checkpoints to ``runs/<run>/last.pt`` every ``--ckpt-every`` steps; ``--resume`` continues
   there with the same schedule and the same samples (sample ``i`` is drawn from a generator seeded
   by ``(seed, i)``), so a CPU run can span several sittings;
4. every ``--eval-every`` steps prints recall, extra plates per photo and corner error on the
   dev split of the unlabelled photos (never trained on; the kr-plates val split is not read);
5. at the end exports ``models/platedet.{pth,yaml}`` (float16 weights, about 1.8 MB).

Seeds are fixed; torch uses CUDA when present.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from plate_ocr.locate import net
from plate_ocr.locate.detector import CONFIG, WEIGHTS, DetectorConfig, PlateDetector, to_input
from training.loop import (
    one_cycle,
    open_log,
    report,
    restore,
    save,
    torch_rng_state,
    write_files,
)

REPO = Path(__file__).resolve().parents[1]


class Patches(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Training patch ``i``, drawn from a generator seeded by ``(seed, i)``: resumable exactly."""

    def __init__(self, labels: Path, size: int, stride: int, seed: int) -> None:
        from training.scenes import load_scenes

        self.scenes = load_scenes("train", labels)
        self.size, self.stride, self.seed = size, stride, seed

    def __len__(self) -> int:
        return 2**31 - 1

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        import cv2

        from training.scenes import make_sample, targets

        cv2.setNumThreads(1)
        rng = np.random.default_rng([self.seed, i])
        sample = make_sample(rng, self.scenes, self.size)
        return {
            "x": to_input(sample.image),
            **targets(sample.plates, sample.ignore, self.size, self.stride, sample.loose),
        }


class FromStep(torch.utils.data.Sampler):  # type: ignore[type-arg]
    """Indices ``start, start + 1, ...``: the samples a run resumed at ``start`` has yet to see."""

    def __init__(self, start: int) -> None:
        self.start = start

    def __iter__(self):  # type: ignore[no-untyped-def]
        i = self.start
        while True:
            yield i
            i += 1


def detector_loss(out: torch.Tensor, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CenterNet's focal loss on the heat map plus a smooth L1 loss on log size and corners."""
    heat, heat_w = batch["heat"], batch["heat_w"]
    logit = out[:, 0]
    p = torch.sigmoid(logit)
    pos = heat.eq(1.0).float()
    pos_loss = -torch.nn.functional.logsigmoid(logit) * (1 - p) ** 2 * pos
    neg_loss = -torch.nn.functional.logsigmoid(-logit) * p**2 * (1 - heat) ** 4 * (1 - pos)
    n_pos = pos.sum().clamp(min=1.0)
    focal = ((pos_loss + neg_loss) * heat_w).sum() / n_pos
    reg_w = batch["reg_w"][:, None]
    l1 = torch.nn.functional.smooth_l1_loss(out[:, 1:], batch["reg"], reduction="none", beta=0.05)
    l1 = l1 * reg_w
    norm = reg_w.sum().clamp(min=1.0)
    size_loss = l1[:, 0].sum() / norm
    corner_loss = l1[:, 1:].sum() / norm / 8
    return {
        "loss": focal + size_loss + 5.0 * corner_loss,
        "focal": focal,
        "size": size_loss,
        "corners": corner_loss,
    }


def evaluate(model: torch.nn.Module, config: DetectorConfig, labels: Path) -> dict[str, float]:
    """Recall at IoU 0.5, extra detections per photo and corner error on the dev photos.

    A detection over an ``unsure`` region counts neither way.
    """
    import cv2

    from plate_ocr.locate.geometry import quad_iou, quad_size
    from training.scenes import load_scenes

    scenes = load_scenes("dev", labels)
    detector = PlateDetector.from_module(model, config)
    found = extra = total = 0
    corner_err: list[float] = []
    started = time.perf_counter()
    for scene in scenes:
        image = cv2.imread(str(scene.path), cv2.IMREAD_COLOR)
        dets = detector.detect(image)
        truth = [tuple(map(tuple, q.tolist())) for q in scene.plates]
        unsure = [tuple(map(tuple, q.tolist())) for q in scene.ignore]
        total += len(truth)
        used: set[int] = set()
        for d in dets:
            ious = [quad_iou(d.quad, t) for t in truth]
            best = int(np.argmax(ious)) if ious else -1
            if best >= 0 and ious[best] >= 0.5 and best not in used:
                used.add(best)
                found += 1
                _, h = quad_size(truth[best])
                err = np.linalg.norm(np.array(d.quad) - np.array(truth[best]), axis=1).mean()
                corner_err.append(float(err) / max(h, 1.0))
            elif not any(quad_iou(d.quad, u) >= 0.3 for u in unsure) and (
                not ious or max(ious) < 0.3
            ):
                extra += 1
    n = max(len(scenes), 1)
    return {
        "photos": len(scenes),
        "recall": round(found / max(total, 1), 4),
        "extra_per_photo": round(extra / n, 3),
        "corner_err_h": round(float(np.mean(corner_err)) if corner_err else 0.0, 4),
        "ms_per_photo": round((time.perf_counter() - started) * 1000 / n, 1),
    }


#: Training's own evaluation counts every detection from this score; the export writes the
#: shipped threshold, :attr:`DetectorConfig.min_score`'s default.
EVAL_MIN_SCORE = 0.3


def trained_steps(ck: dict) -> str:
    """The steps of every round behind a checkpoint's weights: ``3000``, ``3000 + 1500``, ..."""
    rounds = str(ck.get("rounds", ""))
    return f"{rounds} + {ck['step']}" if rounds else str(ck["step"])


def export(checkpoint: Path, out_dir: Path) -> None:
    """Writes ``platedet.pth`` (float16 state dict) and ``platedet.yaml`` from a checkpoint."""
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in ck["model"].items()}
    config = DetectorConfig(**ck["network_params"], trained_steps=trained_steps(ck))
    lines = [
        "# The plate detector (plate_ocr.locate). Written by training/detector.py.",
        *(f"{k}: {getattr(config, k)}" for k in DetectorConfig.__dataclass_fields__),
    ]
    weights = io.BytesIO()
    torch.save(state, weights)
    # Both files or neither (training.loop.write_files).
    write_files(
        {
            out_dir / WEIGHTS: weights.getvalue(),
            out_dir / CONFIG: ("\n".join(lines) + "\n").encode("utf-8"),
        }
    )
    print(f"exported step {ck['step']} to {out_dir}/{WEIGHTS} and {CONFIG}")


def main(argv: list[str] | None = None) -> None:
    from training.scenes import LABELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=REPO / "runs" / "platedet")
    ap.add_argument("--labels", type=Path, default=LABELS)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=320, help="training patch side (pixels)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=250)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="processes drawing training patches")
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--eval-every", type=int, default=1000)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", type=Path, help="start from these weights (a further round)")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--out", type=Path, default=REPO / "models", help="where to export")
    ap.add_argument("--network", type=json.loads, default={}, help='overrides, e.g. {"fpn": 32}')
    args = ap.parse_args(argv)
    params = {"width_mult": 1.0, "fpn": 48, "stride": 4, **args.network}

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(args.seed)
    args.run.mkdir(parents=True, exist_ok=True)
    model = net.build(**params).to(device)
    # The earlier rounds' steps (a further round's starting weights), for the export.
    rounds = ""
    if args.init:
        state = torch.load(args.init, map_location="cpu", weights_only=False)
        model.load_state_dict(state.get("model", state))
        rounds = trained_steps(state) if "step" in state else ""
    opt, sched = one_cycle(model, args.lr, args.steps, args.warmup, final_div=100)
    step = 0
    last = args.run / "last.pt"
    if args.resume and last.exists():
        ck = restore(last, model, opt, sched, args.steps)
        step, rounds = int(ck["step"]), str(ck.get("rounds", rounds))
        args.steps = sched.total_steps

    data = Patches(args.labels, args.size, int(params["stride"]), args.seed)
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=args.batch,
        sampler=FromStep(step * args.batch),
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers else None,
    )
    config = DetectorConfig(**params, min_score=EVAL_MIN_SCORE)
    print(
        f"{len(data.scenes)} real training photos, {sum(p.numel() for p in model.parameters())} "
        f"parameters, device {device}",
        flush=True,
    )
    log = open_log(args.run, step)
    model.train()
    t0, seen = time.time(), []
    for batch in loader:
        if step >= args.steps:
            break
        batch = {k: v.to(device) for k, v in batch.items()}
        losses = detector_loss(model(batch["x"]), batch)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        sched.step()
        step += 1
        seen.append({k: float(v.detach()) for k, v in losses.items()})
        if step % 50 == 0:
            msg = {
                "step": step,
                **{k: round(float(np.mean([s[k] for s in seen])), 4) for k in seen[0]},
                "lr": round(sched.get_last_lr()[0], 6),
                "s_per_step": round((time.time() - t0) / len(seen), 3),
            }
            seen, t0 = [], time.time()
            report(log, msg)
        if step % args.ckpt_every == 0 or step == args.steps:
            save(
                last,
                model=model.state_dict(),
                opt=opt.state_dict(),
                sched=sched.state_dict(),
                step=step,
                rounds=rounds,
                **torch_rng_state(),
                network_params=params,
            )
        if args.labels.is_file() and (step % args.eval_every == 0 or step == args.steps):
            model.eval()
            res = evaluate(model, config, args.labels)
            model.train()
            msg = {"step": step, "dev": res}
            report(log, msg)
            t0 = time.time()
    if not args.no_export:
        export(last, args.out)


if __name__ == "__main__":
    main()
