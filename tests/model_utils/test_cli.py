"""Tests for src/model_utils/cli.py: user errors become one stderr line and exit code 2."""
import pytest

from src.model_utils.cli import run
from src.model_utils.config import ConfigError


@pytest.mark.parametrize("error", [ConfigError("unknown config key(s) ['--x']"),
                                   FileNotFoundError("ckpt a: no such file"),
                                   ValueError("input shape (1, 3, 60, 64): expected ...")])
def test_user_error_exits_2_with_one_line(capsys, error):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run(main, [])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {error}\n"


@pytest.mark.parametrize("returned, code", [(None, 0), (0, 0), (3, 3)])
def test_return_value_is_exit_code(returned, code):
    with pytest.raises(SystemExit) as exit_info:
        run(lambda argv: returned, [])
    assert exit_info.value.code == code


def test_argv_is_passed_and_bugs_are_not_hidden():
    seen = []

    def main(argv):
        seen.append(argv)
        raise KeyError("a programming error keeps its traceback")

    with pytest.raises(KeyError):
        run(main, ["--a", "1"])
    assert seen == [["--a", "1"]]
