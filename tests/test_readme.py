"""The README is the user's manual: it must name every config key, script and root entry point."""
from src.model_utils.config import load_yaml


def test_readme_starts_with_the_two_commands(repo_root):
    text = (repo_root / "README.md").read_text()
    first_block = text[text.index("```bash"):text.index("```", text.index("```bash") + 3)]
    assert "make demo" in first_block and "make test" in first_block


def test_readme_documents_every_config_key(repo_root):
    text = (repo_root / "README.md").read_text()
    values, _, _ = load_yaml(repo_root / "default_config.yaml")
    missing = [key for key in values if f"`{key}`" not in text]
    assert not missing, f"config keys missing from README (regenerate with python -m src.model_utils.config): {missing}"


def test_readme_names_every_script(repo_root):
    text = (repo_root / "README.md").read_text()
    scripts = [p.name for p in (repo_root / "scripts").iterdir() if p.suffix in (".sh", ".py")]
    scripts += [p.name for p in repo_root.glob("*.py") if p.name != "setup.py"]
    scripts += [p.name for p in (repo_root / "benchmarks").glob("bench_*.py")]
    missing = [name for name in scripts if name not in text]
    assert not missing, f"scripts missing from README: {missing}"
