"""Trains the plate recogniser (``python -m training.train``), then exports it into ``models/``.

What it does, in order:

1. starts background renderers of synthetic plate shards (``training.dataset``) unless
   ``--no-render``;
2. trains the network of ``models/korplate.py`` (by default the slot CNN: one softmax per character
   position, cross-entropy) with AdamW and a one-cycle schedule, on batches of synthetic plates
   mixed with augmented real crops (``--real-frac``): the kr-plates ``train`` crops and the
   accepted plates of the unlabelled scenes, without the dev split (never ``val``);
3. checkpoints to ``runs/<run>/last.pt`` every ``--ckpt-every`` steps; ``--resume`` continues from
   there (the same schedule, weights, optimiser and random generators), so a long run can span
   several sittings. The synthetic plates drawn after a resume are not those an unbroken run
   would have drawn: the pool is rebuilt from the shards on disk, in another order than they
   arrived in while the renderers ran;
4. every ``--eval-every`` steps prints exact match on the dev split (real crops never trained on);
5. at the end exports ``models/korplate.{pth,yaml}`` (``training.export``).

Seeds are fixed (``--seed``); torch uses CUDA when present. The defaults are the main stage of the
shipped model's recipe (synthetic plates only); ``make train`` adds the fine-tune with real crops.
On an accelerator lease, ``--render-workers`` uses its cores and ``--fit-seconds`` shortens the
schedule to fit the lease (the step count it settled on is logged; pass it as ``--steps`` to repeat
the run elsewhere).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from plate_ocr.recognizer_config import RecognizerConfig
from training.charset import CHARSET
from training.loop import one_cycle, open_log, report, restore, retime, save, torch_rng_state

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "models"))

import korplate  # noqa: E402

#: The shipped model's shape and size (models/korplate.yaml): a retrain builds the same network
#: unless ``--network`` says otherwise, and the export writes what it built back.
NETWORK_PARAMS: dict[str, object] = dict(
    RecognizerConfig.read(REPO / "models" / "korplate.yaml").network_params
)


def build_model(params: dict[str, object] | None = None) -> torch.nn.Module:
    return korplate.Model(num_class=len(CHARSET) + 1, **(params or NETWORK_PARAMS))


def slot_targets(labels: list[str], slots: int) -> torch.Tensor:
    """Left-aligned character classes per slot; empty slots are class 0 (the blank)."""
    index = {c: i + 1 for i, c in enumerate(CHARSET)}
    out = torch.zeros((len(labels), slots), dtype=torch.long)
    for row, s in enumerate(labels):
        out[row, : len(s)] = torch.tensor([index[c] for c in s], dtype=torch.long)
    return out


def slot_loss(model: torch.nn.Module, x: torch.Tensor, labels: list[str]) -> torch.Tensor:
    logits = model.slot_logits(x)
    targets = slot_targets(labels, logits.shape[1]).to(logits.device)
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[2]), targets.reshape(-1), label_smoothing=0.05
    )


def to_tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x.astype(np.float32)[:, None] / 127.5 - 1.0)


def fitted_steps(
    step: int, elapsed: float, budget: float, planned: int, warm: tuple[int, float] = (0, 0.0)
) -> int:
    """Total steps that end a run inside ``budget`` seconds at the pace seen since ``warm`` (the
    step and the seconds at which the first, slow steps were over); never more than ``planned``,
    never fewer than ``step + 1``."""
    warm_step, warm_elapsed = warm
    pace = (elapsed - warm_elapsed) / max(step - warm_step, 1)
    return max(step + 1, min(planned, warm_step + int((budget - warm_elapsed) / pace)))


def exported_steps(yaml: Path) -> tuple[int, str]:
    """The steps an exported model was trained for, and how, from its yaml's ``# trained steps``
    line (``28006 + 1200 fine-tuning``)."""
    import re

    prefix = "# trained steps:"
    for line in yaml.read_text(encoding="utf-8").splitlines():
        if line.startswith(prefix):
            return sum(int(n) for n in re.findall(r"\d+", line)), line[len(prefix) :].strip()
    return 0, ""


def _start_renderers(pool: Path, shards: int, workers: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    per = math.ceil(shards / workers)
    for w in range(workers):
        log = open(pool / f"render_{w}.log", "ab")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [
                    "nice",
                    "-n",
                    "10",
                    sys.executable,
                    "-m",
                    "training.dataset",
                    "--pool",
                    str(pool),
                    "--first",
                    str(w * per),
                    "--count",
                    str(per),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        )
    return procs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=REPO / "runs" / "korplate")
    ap.add_argument("--pool", type=Path, default=REPO / "runs" / "pool")
    ap.add_argument("--extra-pool", type=Path, nargs="*", default=[], help="more shard folders")
    ap.add_argument(
        "--pool-shards", type=int, default=185, help="synthetic shards of 2000 to render"
    )
    ap.add_argument("--render-workers", type=int, default=2)
    ap.add_argument("--no-render", action="store_true", help="use the shards already in --pool")
    ap.add_argument(
        "--min-shards", type=int, default=3, help="wait for this many shards before training"
    )
    ap.add_argument("--steps", type=int, default=28006)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument(
        "--warmup", type=int, default=4800, help="warm-up steps of the one-cycle schedule"
    )
    ap.add_argument("--real-frac", type=float, default=0.0, help="share of real train crops")
    ap.add_argument("--seed", type=int, default=1234)
    # One thread: with the shard renderers (and anything else) on a 2-core machine, two torch
    # threads spin against each other; measured 2.5 s/step with two, 0.4 s/step with one.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-every", type=int, default=500)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument(
        "--fit-seconds",
        type=float,
        default=0.0,
        help="shorten the schedule so that training ends within this many seconds (a timed "
        "accelerator lease); the log says the step count it settled on",
    )
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", type=Path, help="start from these weights (fine-tuning)")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument(
        "--network",
        type=json.loads,
        default={},
        help='JSON overrides of NETWORK_PARAMS, e.g. {"hidden": 384}',
    )
    args = ap.parse_args(argv)
    params = {**NETWORK_PARAMS, **args.network}
    if not 0 < args.warmup < args.steps:
        ap.error("--warmup must be between 0 and --steps")

    from training.dataset import DATASET, RealTrain, SynthPool
    from training.evaluate import evaluate_module

    torch.set_num_threads(args.threads)
    # OpenCV's own thread pool spins against torch's on a 2-core machine (10x slower preprocessing).
    import cv2

    cv2.setNumThreads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = device.type == "cuda"  # fixed input shapes
    args.run.mkdir(parents=True, exist_ok=True)
    args.pool.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    model = build_model(params).to(device)
    # Steps the starting weights had already trained (a fine-tune's main run), for the export.
    steps_before = 0
    # How the starting weights were trained, for the export's "# trained steps" line.
    history = ""
    if args.init:
        state = torch.load(args.init, map_location="cpu", weights_only=False)
        if "model" in state:
            from training.export import steps_history

            steps_before = int(state.get("steps_before", 0)) + int(state.get("step", 0))
            history = steps_history(state)
            model.load_state_dict(state["model"])
        else:
            # An exported model (models/korplate.pth): "module."-prefixed float16 weights; its
            # steps are in the yaml beside it.
            steps_before, history = exported_steps(args.init.with_suffix(".yaml"))
            model.load_state_dict({k.removeprefix("module."): v.float() for k, v in state.items()})
    opt, sched = one_cycle(model, args.lr, args.steps, args.warmup, final_div=200)
    step = 0
    last = args.run / "last.pt"
    if args.resume and last.exists():
        ck = restore(last, model, opt, sched, args.steps)
        args.steps = sched.total_steps
        step = ck["step"]
        steps_before = int(ck.get("steps_before", steps_before))
        history = str(ck.get("history", history))
        rng.bit_generator.state = ck["rng"]

    renderers = (
        [] if args.no_render else _start_renderers(args.pool, args.pool_shards, args.render_workers)
    )
    pool = SynthPool([args.pool, *args.extra_pool])
    pool.refresh()
    while len(pool.loaded) < args.min_shards:
        time.sleep(10)
        pool.refresh()
    n_real = round(args.batch * args.real_frac)
    # The real photos stay in ../shared: a run without them (an accelerator machine) trains on
    # synthetic plates only and measures nothing.
    real = RealTrain() if n_real else None
    can_eval = (DATASET / "manifest.csv").is_file()
    print(
        f"pool {len(pool)} synthetic, {len(real) if real else 0} real train crops, "
        f"{n_real} real per batch, device {device}",
        flush=True,
    )

    log = open_log(args.run, step)
    model.train()
    t0, seen_loss = time.time(), []
    started, first_step = time.time(), step
    warm = (0, 0.0)
    try:
        while step < args.steps:
            if step % 250 == 0:
                pool.refresh()
            xs, labels = pool.batch(rng, args.batch - n_real)
            if real is not None:
                rx, rl = zip(*(real.sample(rng) for _ in range(n_real)), strict=True)
                xs = np.concatenate([xs, np.stack(rx)])
                labels = [*labels, *rl]
            x = to_tensor(xs).to(device)
            loss = slot_loss(model, x, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            step += 1
            seen_loss.append(loss.item())
            if step - first_step == 100:
                # The first steps pay for CUDA's start and cuDNN's tuning: the pace is timed after.
                warm = (100, time.time() - started)
            if args.fit_seconds and (step - first_step) in (300, 2000, 8000, 20000):
                total = fitted_steps(
                    step - first_step, time.time() - started, args.fit_seconds, args.steps, warm
                )
                if total + first_step < sched.total_steps:
                    args.steps = retime(sched, total + first_step)
            if step % 100 == 0:
                rate = (time.time() - t0) / 100
                t0 = time.time()
                msg = {
                    "step": step,
                    "loss": float(np.mean(seen_loss)),
                    "lr": sched.get_last_lr()[0],
                    "s_per_step": round(rate, 3),
                    "pool": len(pool),
                }
                seen_loss = []
                report(log, msg)
            if step % args.ckpt_every == 0 or step == args.steps:
                save(
                    last,
                    model=model.state_dict(),
                    opt=opt.state_dict(),
                    sched=sched.state_dict(),
                    step=step,
                    rng=rng.bit_generator.state,
                    **torch_rng_state(),
                    charset=CHARSET,
                    network_params=params,
                    steps_before=steps_before,
                    history=history,
                )
            if can_eval and (step % args.eval_every == 0 or step == args.steps):
                model.eval()
                res = evaluate_module(model.cpu() if device.type != "cpu" else model, CHARSET)
                model.to(device).train()
                msg = {"step": step, "dev": res["summary"]}
                report(log, msg)
    finally:
        for p in renderers:
            p.terminate()
    if not args.no_export:
        from training.export import export

        export(last, REPO / "models")


if __name__ == "__main__":
    main()
