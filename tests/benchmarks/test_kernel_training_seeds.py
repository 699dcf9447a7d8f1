"""benchmarks/kernel_training_seeds.py's statistics and README bar on hand-made results (the runs themselves take
hours; README's table comes from them)."""
import pytest

from benchmarks.kernel_training_seeds import arm_statistics, parse_settings, table, verdict

OFFICIAL = {"easy": 0.65, "medium": 0.72, "hard": 0.55}


def run(seed, arm, easy, medium, hard):
    return {"seed": seed, "variant": arm, "loss": 0.5, "train_seconds": 100.0,
            "test_kernels": {"easy": easy, "medium": medium, "hard": hard}}


def test_statistics_spread_and_the_bar():
    results = [run(1, "kernels", 0.90, 0.90, 0.80), run(2, "kernels", 0.92, 0.91, 0.81),
               run(1, "nudged", 0.85, 0.89, 0.70), run(2, "nudged", 0.91, 0.90, 0.72)]
    stats = arm_statistics(results, "test_kernels")
    assert sorted(stats) == ["kernels", "nudged"]  # arms without runs are left out
    assert stats["kernels"]["easy"] == pytest.approx({"mean": 0.91, "min": 0.90, "max": 0.92, "spread": 0.02, "runs": 2})
    assert stats["nudged"]["hard"]["spread"] == pytest.approx(0.02)
    spread_ok, gain_ok, spread, gain = verdict(stats, OFFICIAL)
    # largest spread: nudged easy 0.06 > 0.03; smallest gain: nudged hard 0.70 - 0.55 = 0.15 (the bar itself)
    assert (spread_ok, gain_ok) == (False, True)
    assert spread == pytest.approx(0.06) and gain == pytest.approx(0.15)
    text = table(results, "test_kernels", OFFICIAL)
    assert "| kernels | 2 | 0.910 (0.900..0.920) 0.020 |" in text
    assert "largest spread 0.060 (bar <= 0.03: NOT met)" in text and "(bar >= 0.15: met)" in text


def test_a_recipe_below_the_gain_bar():
    stats = arm_statistics([run(1, "msops", 0.79, 0.90, 0.80), run(2, "msops", 0.80, 0.90, 0.80)], "test_kernels")
    assert verdict(stats, OFFICIAL)[:2] == (True, False)  # easy 0.79 - 0.65 = 0.14 < 0.15


def test_settings_are_key_value_pairs():
    assert parse_settings(["lr=2e-4", "--freeze_bn=True"]) == {"lr": "2e-4", "freeze_bn": "True"}
    with pytest.raises(SystemExit, match="expected KEY=VALUE"):
        parse_settings(["lr"])
