"""The training schedule fits a timed lease and can be re-timed; the export records the steps."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")


def test_fitted_steps_time_the_pace_after_the_warm_steps() -> None:
    from training.train import fitted_steps

    # 100 slow steps took 7 s, the next 200 took 2 s: 10 ms a step, 373 s left of 380.
    assert fitted_steps(300, 9.0, 380.0, 60_000, warm=(100, 7.0)) == 100 + 37_300
    # Never more than planned, never fewer than one step past the current one.
    assert fitted_steps(300, 9.0, 380.0, 5_000, warm=(100, 7.0)) == 5_000
    assert fitted_steps(300, 400.0, 380.0, 60_000) == 301


def test_retime_moves_the_end_of_the_schedule_and_keeps_the_warm_up() -> None:
    from training.loop import retime

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=1000, pct_start=0.1)
    retime(sched, 500)
    lrs = []
    for _ in range(499):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert max(lrs) == pytest.approx(1e-3, rel=1e-3)
    assert lrs.index(max(lrs)) == 98  # the peak is still at the end of the 100-step warm-up
    assert lrs[-1] < 1e-5  # annealed by step 500, not 1000


def test_export_names_the_main_run_and_fine_tune_steps(tmp_path) -> None:
    from training.charset import CHARSET
    from training.export import export
    from training.train import NETWORK_PARAMS, build_model

    ck = {
        "model": build_model().state_dict(),
        "charset": CHARSET,
        "network_params": NETWORK_PARAMS,
        "step": 1200,
        "steps_before": 28006,
    }
    torch.save(ck, tmp_path / "last.pt")
    export(tmp_path / "last.pt", tmp_path / "out")
    yaml = (tmp_path / "out" / "korplate.yaml").read_text(encoding="utf-8")
    assert "# trained steps: 28006 + 1200 fine-tuning" in yaml
    assert "hidden: 384" in yaml


def test_retime_never_ends_the_schedule_inside_its_warm_up() -> None:
    from training.loop import retime

    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=1000, pct_start=0.1)
    retime(sched, 50)
    assert sched.total_steps == 101


def test_an_export_that_fails_part_way_leaves_the_old_files_whole(tmp_path):
    from training.loop import write_files

    old_weights, old_config = tmp_path / "m.pth", tmp_path / "m.yaml"
    old_weights.write_bytes(b"old weights")
    old_config.write_bytes(b"old config")
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"")

    # The third file cannot be written (its folder is a file): nothing moves into place.
    with pytest.raises(OSError):
        write_files(
            {
                old_weights: b"new weights",
                old_config: b"new config",
                blocked / "x.json": b"{}",
            }
        )

    assert old_weights.read_bytes() == b"old weights" and old_config.read_bytes() == b"old config"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "m.pth", "m.yaml"]

    write_files({old_weights: b"new weights", old_config: b"new config"})
    assert old_weights.read_bytes() == b"new weights" and old_config.read_bytes() == b"new config"


def test_a_checkpoint_keeps_every_torch_generator():
    import torch

    from training.loop import torch_rng_state

    state = torch_rng_state()
    assert torch.equal(state["torch_rng"], torch.get_rng_state())
    assert (state["cuda_rng"] is None) == (not torch.cuda.is_available())


def test_a_resumed_run_logs_each_step_once(tmp_path):
    from training.loop import open_log, report

    # GIVEN a run that logged steps 100-700 and stopped after its checkpoint at 500
    with open_log(tmp_path, 0) as log:
        for step in range(100, 800, 100):
            report(log, {"step": step, "loss": 1.0})
    with open(tmp_path / "log.jsonl", "ab") as raw:
        # the last line, cut by the stop inside a character
        raw.write('{"step": 800, "note": "한'.encode()[:-1])

    # WHEN it resumes at 500 and logs on
    with open_log(tmp_path, 500) as log:
        for step in (600, 700):
            report(log, {"step": step, "loss": 0.5})

    # THEN each step is in the log once, the resumed run's lines after the checkpoint
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [100, 200, 300, 400, 500, 600, 700]
    assert [m["loss"] for m in lines[-2:]] == [0.5, 0.5]


def test_a_run_started_afresh_starts_a_fresh_log(tmp_path):
    from training.loop import open_log, report

    (tmp_path / "log.jsonl").write_text('{"step": 100, "loss": 1.0}\n{"note": "x"}\n')

    with open_log(tmp_path, 0) as log:
        report(log, {"step": 100, "loss": 2.0})

    assert (tmp_path / "log.jsonl").read_text() == '{"step": 100, "loss": 2.0}\n'
