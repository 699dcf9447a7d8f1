"""Tests for src/model_utils/{device_adapter,local_adapter}.py: rank/device information from the environment."""
import pytest

from src.model_utils import device_adapter, local_adapter, moxing_adapter
from src.model_utils.config import Config


@pytest.mark.parametrize("modelarts, adapter", [(False, local_adapter), (True, moxing_adapter)])
def test_adapter_chosen_by_config(modelarts, adapter):
    assert device_adapter.get_adapter(Config({"enable_modelarts": modelarts})) is adapter


def test_environment_read_by_both_adapters(monkeypatch):
    monkeypatch.setenv("DEVICE_ID", "3")
    monkeypatch.setenv("RANK_SIZE", "8")
    monkeypatch.setenv("RANK_ID", "5")
    monkeypatch.setenv("JOB_ID", "job42")
    for modelarts in (False, True):
        cfg = Config({"enable_modelarts": modelarts})
        assert (device_adapter.get_device_id(cfg), device_adapter.get_device_num(cfg),
                device_adapter.get_rank_id(cfg)) == (3, 8, 5)
    assert device_adapter.get_job_id(Config({"enable_modelarts": True})) == "job42"
    assert device_adapter.get_job_id(Config({"enable_modelarts": False})) == "Local Job"


def test_single_device_defaults(monkeypatch):
    for var in ("DEVICE_ID", "RANK_SIZE", "RANK_ID", "JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    assert (local_adapter.get_device_id(), local_adapter.get_device_num(), local_adapter.get_rank_id()) == (0, 1, 0)
    assert moxing_adapter.get_job_id() == "default"
