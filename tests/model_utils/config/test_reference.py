"""Tests for src/model_utils/config/reference.py and `python -m src.model_utils.config` (tests/test_readme.py
checks that docs/configuration.md is the current page)."""
import subprocess
import sys

from src.model_utils.config import reference_markdown
from src.tasks import task_config_path, task_names


def test_the_module_command_prints_the_page(repo_root):
    res = subprocess.run([sys.executable, "-m", "src.model_utils.config"], cwd=repo_root, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout == reference_markdown()


def test_one_section_per_registered_model_after_the_shared_keys(repo_root):
    headings = [line for line in reference_markdown().splitlines() if line.startswith("## ")]
    models = [f"## {name} (`{task_config_path(name).relative_to(repo_root).as_posix()}`)" for name in task_names()]
    assert headings == ["## Shared keys (`configs/base.yaml`)", *models, "## Other accepted names"]
