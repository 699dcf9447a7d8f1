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


@pytest.mark.parametrize("error, line", [
    (PermissionError(13, "Permission denied", "/out/predict"), "error: /out/predict: Permission denied"),
    (OSError(28, "No space left on device", "/out/ckpt/0-1_2.ckpt"),
     "error: /out/ckpt/0-1_2.ckpt: No space left on device"),
    (NotADirectoryError(20, "Not a directory", "/a/file/out"), "error: /a/file/out: Not a directory"),
    (IsADirectoryError(21, "Is a directory", "/out/x.json"), "error: /out/x.json: Is a directory"),
])
def test_os_error_exits_3_with_one_line_naming_the_path(capsys, error, line):
    def main(argv):
        raise error

    with pytest.raises(SystemExit) as exit_info:
        run(main, [])
    assert exit_info.value.code == 3
    assert capsys.readouterr().err == line + "\n"


def test_sigterm_is_an_interruption_with_what_was_kept(capsys):
    """MindSpore's runtime answers Ctrl-C (SIGINT) by sending the process SIGTERM (src/model_utils/cli.py); both
    must end as "interrupted" with exit code 130 and the on_interrupt line, not a silent death."""
    import os
    import signal
    import time

    def main(argv):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_info:
        run(main, [], on_interrupt=lambda: "last checkpoint /out/ckpt/0-3_10.ckpt")
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "error: interrupted; last checkpoint /out/ckpt/0-3_10.ckpt\n"
    assert signal.getsignal(signal.SIGTERM) is before  # restored for whoever called run


def test_out_of_memory_is_one_line_exit_3_and_other_runtime_errors_keep_their_traceback(capsys):
    # The text of MindSpore 2.10's report (measured: predict.py on a 4096x3072 input on a machine short of memory)
    report = ("\n----------------------------------------------------\n- Memory not enough:\n"
              "----------------------------------------------------\nMemory isn't enough and alloc failed, kernel "
              "name: 6_Default/backbone-MobileNetV2Backbone/features-CellList/2-InvertedResidual/expand-ConvBNAct/"
              "conv-ConvBiasReLU/Custom-op0, alloc size: 1207959552B.\n\n"
              "----------------------------------------------------\n- C++ Call Stack: (For framework developers)\n")
    for error, line in ((RuntimeError(report), "error: out of memory: MindSpore could not allocate 1152 MiB ("),
                        (MemoryError(), "error: out of memory (")):
        def main(argv, error=error):
            raise error

        with pytest.raises(SystemExit) as exit_info:
            run(main, [])
        assert exit_info.value.code == 3
        err = capsys.readouterr().err
        assert err.startswith(line) and err.count("\n") == 1 and "--max_input_side" in err

    def buggy(argv):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run(buggy, [])
