"""Faults at the I/O helpers: OS errors name the path the user gave, never a temporary or nothing;
a file where a folder should be; output folders that hold one run (src/io_utils.claim_output_folder).
End-to-end versions through the real scripts are in tests/test_reliability.py."""
import errno
import json
import os

import pytest

from dependency.atomic import atomic_write, make_folder
from src.io_utils import RUN_MANIFEST, OutputFolderError, atomic_write_bytes, claim_output_folder


def test_a_failed_write_names_the_target_not_the_temporary(tmp_path):
    path = tmp_path / "out" / "result.json"

    def disk_full(handle):
        handle.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")  # what write() raises: no file name

    with pytest.raises(OSError) as info:
        atomic_write(path, disk_full)
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(path))
    assert os.listdir(path.parent) == []


def test_a_refused_temporary_names_the_target(tmp_path, monkeypatch):
    import tempfile

    def refused(prefix, suffix, dir):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, prefix + "x1y2" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError) as info:
        atomic_write_bytes(tmp_path / "a.png", b"png")
    assert info.value.filename == str(tmp_path / "a.png")


def test_an_error_naming_another_file_keeps_its_name(tmp_path):
    def other(handle):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "/elsewhere/input.bin")

    with pytest.raises(FileNotFoundError) as info:
        atomic_write(tmp_path / "out.bin", other)
    assert info.value.filename == "/elsewhere/input.bin"


def test_a_file_where_a_folder_is_expected(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a user's file")
    for target in (blocker, blocker / "sub"):
        with pytest.raises(NotADirectoryError) as info:
            make_folder(target)
        assert info.value.errno == errno.ENOTDIR and info.value.filename == str(target)
    with pytest.raises(NotADirectoryError) as info:
        atomic_write_bytes(blocker / "a.json", b"{}")
    assert info.value.filename == str(blocker)
    assert blocker.read_text() == "a user's file"


def run_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_rerun_of_the_same_script_replaces_its_earlier_run(tmp_path):
    out = tmp_path / "out"
    claim_output_folder(out, "test.py")
    (out / "0--A").mkdir()
    (out / "0--A" / "a.txt").write_text("old result of an image that fails now")
    (out / "eval.json").write_text("{}")
    claim_output_folder(out, "test.py", keep=("eval.json",))
    assert run_files(out) == [RUN_MANIFEST, "eval.json"]
    assert json.loads((out / RUN_MANIFEST).read_text())["script"] == "test.py"


@pytest.mark.parametrize("owner", [None, "predict.py"])
def test_a_folder_of_another_script_or_of_unknown_files_is_refused_and_left_alone(tmp_path, owner):
    out = tmp_path / "out"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"a user's photo")
    if owner:
        (out / RUN_MANIFEST).write_text(json.dumps({"script": owner}))
    before = run_files(out)
    with pytest.raises(OutputFolderError, match=r"is not empty and holds no earlier test.py run \(\d+ entries"):
        claim_output_folder(out, "test.py")
    assert run_files(out) == before and (out / "holiday.jpg").read_bytes() == b"a user's photo"


def test_an_output_folder_holding_an_input_is_refused(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    photo = images / "a.jpg"
    photo.write_bytes(b"jpeg")
    for out in (images, tmp_path):  # is the input folder / contains it
        with pytest.raises(OutputFolderError, match="holds the input"):
            claim_output_folder(out, "predict.py", inputs=[photo])
    claim_output_folder(images / "predictions", "predict.py", inputs=[photo])  # inside the input folder: fine
    assert photo.read_bytes() == b"jpeg"


def test_an_output_folder_that_is_a_file_is_an_os_error(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file; expected a folder"):
        claim_output_folder(tmp_path / "out", "predict.py")
