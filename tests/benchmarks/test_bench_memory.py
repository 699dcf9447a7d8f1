"""Tests for benchmarks/bench_memory.py: the line fit against a hand-computed case, the point parser, and one real
train.py point measured in a child process (the contract: a positive peak and a table row; memory itself is not
asserted)."""
import numpy as np
import pytest

from benchmarks.bench_memory import _points, fit_line, train_table


def test_fit_line_recovers_a_line_and_the_points_parse():
    x = np.array([16384, 32768, 65536, 131072], float)
    intercept, slope = fit_line(x, 1.5 + 7.5e-6 * x)
    assert intercept == pytest.approx(1.5, abs=1e-9) and slope == pytest.approx(7.5e-6, rel=1e-9)
    # least squares of (0, 0), (1, 1), (2, 1): slope 1/2, intercept 1/6
    assert fit_line([0, 1, 2], [0, 1, 1]) == pytest.approx((1 / 6, 1 / 2), abs=1e-12)
    assert _points("1x128,8x512") == [(1, 128), (8, 512)]


@pytest.mark.slow
def test_one_training_point_is_measured_in_its_own_process(capsys):
    rows = train_table("centerface", [(2, 64)])
    assert len(rows) == 1 and rows[0]["peak_gb"] > 0.1 and rows[0]["pixels"] == 2 * 64 * 64
    assert "| 2 | 64x64 | 0.008 |" in capsys.readouterr().out
