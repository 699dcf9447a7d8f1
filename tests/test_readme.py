"""The README is the user's manual: it must name every config key (of every model), script and root entry point."""
import pytest

from src.model_utils.config import load_schema

CONFIGS = ("default_config.yaml", "configs/centernet_pose.yaml", "configs/centernet_det.yaml")


def test_readme_starts_with_the_two_commands(repo_root):
    text = (repo_root / "README.md").read_text()
    first_block = text[text.index("```bash"):text.index("```", text.index("```bash") + 3)]
    assert "make demo" in first_block and "make test" in first_block


@pytest.mark.parametrize("config", CONFIGS)
def test_readme_documents_every_config_key(repo_root, config):
    text = (repo_root / "README.md").read_text()
    schema = load_schema(repo_root / config)
    missing = [key for key in schema.values if f"`{key}`" not in text]
    missing += [f"--{alias}" for alias in schema.aliases if f"`--{alias}`" not in text]
    assert not missing, (f"{config} keys/aliases missing from README (regenerate the tables with "
                         f"python -m src.model_utils.config): {missing}")


def test_readme_names_every_script(repo_root):
    text = (repo_root / "README.md").read_text()
    scripts = [p.name for p in (repo_root / "scripts").iterdir() if p.suffix in (".sh", ".py")]
    scripts += [p.name for p in repo_root.glob("*.py") if p.name != "setup.py"]
    scripts += [p.name for p in (repo_root / "benchmarks").glob("bench_*.py")]
    missing = [name for name in scripts if name not in text]
    assert not missing, f"scripts missing from README: {missing}"
