"""Tests for src/model_utils/config/save.py: a run's resolved config is saved atomically and reloads as
--config_path.

Every expected value below is written by hand from the YAML written in the test, not read back from the parser.
"""
import os

import pytest
import yaml

from src.model_utils.config import parse_config, save_config


def test_save_config_round_trip(tmp_path, typed_yaml, parse):
    cfg = parse(typed_yaml, "--sizes", "7,8", "--nothing", "null", "--flag", "true")
    out_dir = tmp_path / "run"
    path = save_config(cfg, out_dir)
    assert path == out_dir / "config.yaml"
    settings = {k: v for k, v in cfg.to_dict().items() if k != "config_path"}
    # config_path is provenance, not a setting: it is written as a comment; the keys came from typed.yaml, so
    # the saved file (which sets every key) is laid over it
    assert yaml.safe_load(path.read_text()) == {"__BASE__": str(typed_yaml.resolve()), **settings}
    assert path.read_text().splitlines()[0] == f"# resolved from {typed_yaml}"
    assert sorted(os.listdir(out_dir)) == ["config.yaml"]  # the temporary file was moved, not left behind
    shipped = save_config(parse_config(["--lr", "0.01"]), tmp_path / "shipped")
    assert "__BASE__" not in yaml.safe_load(shipped.read_text())  # over default_config.yaml: portable
    assert parse_config(["--config_path", str(shipped)]).lr == 0.01
    # The saved file is itself a valid config for the parser (a run can be repeated from it).
    again = parse(path)
    assert {k: v for k, v in again.to_dict().items() if k != "config_path"} == settings
    assert again.config_path == str(path)
