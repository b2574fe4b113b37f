"""What both trainers (the recogniser's and the detector's) share: the optimiser and its one-cycle
schedule, and checkpoints that a later sitting resumes from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import torch


def one_cycle(
    model: torch.nn.Module, lr: float, steps: int, warmup: int, final_div: float
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.OneCycleLR]:
    """AdamW (weight decay 1e-4) with a one-cycle schedule: ``warmup`` steps up from lr / 20 to
    ``lr``, then down to lr / 20 / ``final_div`` at ``steps``."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=lr,
        total_steps=steps,
        pct_start=warmup / steps,
        div_factor=20,
        final_div_factor=final_div,
    )
    return opt, sched


def save(path: Path, **state: Any) -> None:
    """Writes a checkpoint whole or not at all (a killed run never leaves half a file)."""
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def torch_rng_state() -> dict[str, Any]:
    """torch's generators for a checkpoint: the CPU's, and each GPU's where there are GPUs (the
    recogniser's dropout draws on the device it runs on)."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return {"torch_rng": torch.get_rng_state(), "cuda_rng": cuda}


def write_files(files: dict[Path, bytes]) -> None:
    """Writes each file beside its final name, then moves them all into place: an export that
    fails (a bad checkpoint, a full disk) leaves the models as they were, not half new."""
    staged = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            staged.append((tmp, path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        tmp.replace(path)


def restore(
    path: Path,
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.OneCycleLR,
    steps: int,
) -> dict[str, Any]:
    """Loads a checkpoint's weights, optimiser, schedule and torch generator into the live objects,
    and returns the checkpoint for the trainer's own fields (its step, its data order).

    A run may be resumed with another number of ``steps`` (shortened or lengthened): the schedule's
    decay is re-timed to end there (:func:`retime`).
    """
    ck: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=False)
    model.load_state_dict(ck["model"])
    opt.load_state_dict(ck["opt"])
    sched.load_state_dict(ck["sched"])
    torch.set_rng_state(ck["torch_rng"])
    if ck.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ck["cuda_rng"])
    if sched.total_steps != steps:
        retime(sched, steps)
    print(f"resumed at step {ck['step']}", flush=True)
    return ck


def retime(sched: torch.optim.lr_scheduler.OneCycleLR, total: int) -> int:
    """Moves the end of a one-cycle schedule to ``total`` steps (the warm-up stays as it was, so
    the end never comes before the warm-up's)."""
    warm_end = int(sched._schedule_phases[0]["end_step"])  # type: ignore[attr-defined]
    total = max(total, warm_end + 2)
    sched.total_steps = total
    sched._schedule_phases[-1]["end_step"] = total - 1  # type: ignore[attr-defined]
    print(f"schedule re-timed to {total} steps", flush=True)
    return total


def open_log(run: Path, step: int) -> IO[str]:
    """The run's ``log.jsonl``, open for appending, holding only the lines of steps up to
    ``step`` (where the run starts or resumes): the lines a stopped run wrote after its last
    checkpoint are written again by the resumed one, and a run started afresh (``step`` 0) starts
    a fresh log. Lines without a step, or cut by the stop, are dropped.
    """
    path = run / "log.jsonl"
    kept = []
    if step > 0 and path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                logged = json.loads(line).get("step")
            except (json.JSONDecodeError, AttributeError):
                continue  # a line cut by the stop
            if isinstance(logged, int) and logged <= step:
                kept.append(line + "\n")
    path.write_text("".join(kept), encoding="utf-8")
    return open(path, "a", encoding="utf-8")


def report(log: IO[str], msg: dict[str, Any]) -> None:
    """One progress line: printed, and appended to the run's ``log.jsonl`` at once."""
    line = json.dumps(msg, ensure_ascii=False)
    print(line, flush=True)
    log.write(line + "\n")
    log.flush()
