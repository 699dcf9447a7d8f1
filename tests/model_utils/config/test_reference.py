"""Tests for src/model_utils/config/reference.py and `python -m src.model_utils.config` (tests/test_readme.py
checks that docs/configuration.md is the current page)."""
import subprocess
import sys

from src.model_utils.config import reference_markdown
from src.model_utils.config.schema import shipped_configs, task_config
from src.tasks import REGISTRY, task_config_path, task_names


def test_the_module_command_prints_the_page(repo_root):
    res = subprocess.run([sys.executable, "-m", "src.model_utils.config"], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == reference_markdown()


def test_one_section_per_registered_model_after_the_shared_keys(repo_root):
    headings = [line for line in reference_markdown().splitlines() if line.startswith("## ")]
    models = [f"## {name} (`{path.relative_to(repo_root).as_posix()}`)" for name, path in shipped_configs().items()]
    assert headings == ["## Shared keys (`configs/base.yaml`)", *models, "## Other accepted names"]


def test_the_config_layer_finds_the_config_the_registry_names_for_every_task():
    # the config layer finds shipped configs by rule (it sits below src/tasks and must not import it): the rule
    # and the registry must agree, so a model whose config breaks the rule fails here, not at a user's run
    assert sorted(shipped_configs()) == sorted(task_names())
    for name in REGISTRY:
        assert task_config(name).resolve() == task_config_path(name).resolve(), name
