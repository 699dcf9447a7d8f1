"""A small config file of every value type, and `parse(path, *argv)` over it."""
import pytest

from src.model_utils.config import parse_config

TYPED_YAML = """\
flag: False
on_flag: True
count: 3
rate: 0.5
name: "abc"
sizes: [1, 2]
names: ["a", "b"]
milestones: []
nothing: null
mode: "GRAPH"
metrics: ["ap"]
---
flag: "a boolean switch"
count: "how many"
---
mode: ["GRAPH", "PYNATIVE"]
metrics: ["ap", "ar"]
"""


@pytest.fixture()
def typed_yaml(tmp_path):
    path = tmp_path / "typed.yaml"
    path.write_text(TYPED_YAML)
    return path


@pytest.fixture()
def parse():
    """`parse(path, *argv, **kwargs)`: parse_config of `argv` with `--config_path path`."""
    def parse_with(path, *argv, **kwargs):
        return parse_config(["--config_path", str(path), *argv], **kwargs)
    return parse_with
