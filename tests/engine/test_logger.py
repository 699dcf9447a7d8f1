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
