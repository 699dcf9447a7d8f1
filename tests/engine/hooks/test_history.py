"""HistoryHook alone: loss_history.json/.csv written from the loop's history (rank 0) at checkpoints, epoch ends
and before an abort; truncated to the resumed step on resume; the curve drawn at the end. The expected file
contents are written out by hand."""
import json

from src.engine.hooks.history import HISTORY_CSV, HISTORY_JSON, LOSS_CURVE_PNG, HistoryHook

ROWS = {"global_step": [1, 2, 3], "epoch": [1, 1, 2], "iter": [1, 2, 1], "loss": [2.5, None, 1.25],
        "overflow": [False, True, False], "loss_scale": [1024.0, 512.0, 512.0],
        "components": {"hm": [2.0, None, 1.0], "wh": [0.5, 0.25, 0.25]}}
CSV = ("global_step,epoch,iter,loss,overflow,loss_scale,hm,wh\n"
       "1,1,1,2.5,0,1024.0,2.0,0.5\n"
       "2,1,2,,1,512.0,,0.25\n"
       "3,2,1,1.25,0,512.0,1.0,0.25\n")


def test_a_checkpoint_an_epoch_end_and_an_abort_each_write_both_files(fake_trainer):
    hook = fake_trainer.attach(HistoryHook())
    fake_trainer.history = ROWS
    for event in (lambda: hook.after_checkpoint("0-1_2.ckpt"), lambda: hook.after_epoch(0, {}), hook.before_abort):
        for name in (HISTORY_JSON, HISTORY_CSV):
            (fake_trainer.output_dir / name).unlink(missing_ok=True)
        event()
        assert json.loads((fake_trainer.output_dir / HISTORY_JSON).read_text()) == ROWS
        assert (fake_trainer.output_dir / HISTORY_CSV).read_text() == CSV


def test_resume_keeps_the_rows_up_to_the_resumed_step(fake_trainer):
    hook = fake_trainer.attach(HistoryHook())
    fake_trainer.history = ROWS
    hook.after_epoch(1, {})
    fake_trainer.history = {"global_step": [], "epoch": [], "iter": [], "loss": [], "overflow": [],
                            "loss_scale": [], "components": {}}
    fake_trainer.global_step = 2
    hook.after_resume()
    assert fake_trainer.history == {
        "global_step": [1, 2], "epoch": [1, 1], "iter": [1, 2], "loss": [2.5, None], "overflow": [False, True],
        "loss_scale": [1024.0, 512.0], "components": {"hm": [2.0, None], "wh": [0.5, 0.25]}}


def test_resume_without_a_history_file_keeps_the_history(fake_trainer):
    hook = fake_trainer.attach(HistoryHook())
    fake_trainer.history = ROWS
    fake_trainer.global_step = 1
    hook.after_resume()
    assert fake_trainer.history is ROWS


def test_the_curve_is_drawn_at_the_end_and_named_in_the_summary(fake_trainer):
    hook = fake_trainer.attach(HistoryHook())
    fake_trainer.history = ROWS
    summary = {}
    hook.after_train(summary)
    curve = fake_trainer.output_dir / LOSS_CURVE_PNG
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary == {"loss_curve": str(curve), "history": str(fake_trainer.output_dir / HISTORY_JSON)}


def test_no_curve_without_steps(fake_trainer):
    hook = fake_trainer.attach(HistoryHook())
    summary = {}
    hook.after_train(summary)
    assert summary == {} and not (fake_trainer.output_dir / LOSS_CURVE_PNG).exists()


def test_other_ranks_write_and_load_nothing(fake_trainer, tmp_path):
    fake_trainer.rank = 1
    hook = fake_trainer.attach(HistoryHook())
    fake_trainer.history = ROWS
    hook.after_checkpoint("x")
    hook.after_epoch(0, {})
    hook.before_abort()
    hook.after_train({})
    assert list(tmp_path.iterdir()) == []
