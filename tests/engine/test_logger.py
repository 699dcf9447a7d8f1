"""get_logger: rank 0 to stdout and its file, other ranks to their file only, no duplicated handlers."""
from src.engine.logger import get_logger


def test_rank0_logs_to_stdout_and_file(tmp_path, capsys):
    get_logger(tmp_path, rank=0)
    logger = get_logger(tmp_path, rank=0)  # second call must not duplicate lines
    logger.info("epoch:1, iter:10, avg_loss:0.5")
    for handler in logger.handlers:
        handler.flush()
    out = capsys.readouterr().out
    assert out.count("epoch:1, iter:10, avg_loss:0.5") == 1
    assert (tmp_path / "log_rank0.txt").read_text().count("epoch:1, iter:10") == 1


def test_other_ranks_log_only_to_their_file(tmp_path, capsys):
    logger = get_logger(tmp_path / "run", rank=3)
    logger.info("hello from rank 3")
    for handler in logger.handlers:
        handler.flush()
    assert "hello from rank 3" not in capsys.readouterr().out
    assert "hello from rank 3" in (tmp_path / "run" / "log_rank3.txt").read_text()
    assert not (tmp_path / "run" / "log_rank0.txt").exists()


def test_a_log_file_that_cannot_be_written_stops_with_an_os_error_naming_it(tmp_path):
    """logging's default prints a traceback per line and goes on without a log; /dev/full
    fails every write with ENOSPC, the way a full disk does (and as root, unlike permission bits)."""
    import errno

    import pytest

    (tmp_path / "log_rank0.txt").symlink_to("/dev/full")
    logger = get_logger(tmp_path, rank=0)
    with pytest.raises(OSError) as info:
        logger.info("epoch:1, iter:10, avg_loss:0.5")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "log_rank0.txt")
    get_logger(tmp_path / "next", rank=0).info("a new logger replaces the failed one")  # closing it raises nothing
    assert "a new logger" in (tmp_path / "next" / "log_rank0.txt").read_text()


def test_a_file_where_the_log_folder_should_be(tmp_path):
    import pytest

    (tmp_path / "run").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="is a file; expected a folder") as info:
        get_logger(tmp_path / "run", rank=0)
    assert info.value.filename == str(tmp_path / "run")
