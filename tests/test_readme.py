"""The README is the user's manual: it names every script and root entry point; the configuration reference
(docs/configuration.md) every config key of every model."""


def test_readme_starts_with_the_two_commands(repo_root):
    text = (repo_root / "README.md").read_text()
    first_block = text[text.index("```bash"):text.index("```", text.index("```bash") + 3)]
    assert "make demo" in first_block and "make test" in first_block


def test_configuration_reference_is_generated_from_the_configs(repo_root):
    """docs/configuration.md (every key of every registered model, and the one table of accepted old names) is what
    the config files say: regenerate it with `python -m src.model_utils.config > docs/configuration.md`."""
    from src.model_utils.config import load_schema, reference_markdown
    from src.tasks import task_config_path, task_names

    text = (repo_root / "docs" / "configuration.md").read_text()
    assert text == reference_markdown(), "stale docs/configuration.md: regenerate it"
    for name in task_names():
        schema = load_schema(task_config_path(name))
        assert all(f"`{key}`" in text for key in schema.values)
        assert all(f"`--{alias}`" in text for alias in schema.aliases)


def test_readme_names_every_script(repo_root):
    text = (repo_root / "README.md").read_text()
    scripts = [p.name for p in (repo_root / "scripts").iterdir() if p.suffix in (".sh", ".py")]
    scripts += [p.name for p in repo_root.glob("*.py") if p.name != "setup.py"]
    scripts += [p.name for p in (repo_root / "benchmarks").glob("bench_*.py")]
    missing = [name for name in scripts if name not in text]
    assert not missing, f"scripts missing from README: {missing}"


def test_references_to_the_design_notes_name_existing_sections(repo_root):
    """Comments point maintainers to docs/<page>.md "<section>": the page and the section heading must exist."""
    import re
    import subprocess

    files = subprocess.run(["git", "ls-files", "*.py", "*.sh", "*.yaml", "*.md", "*.cc", "*.h"], cwd=repo_root,
                           capture_output=True, text=True, check=True).stdout.split()
    reference = re.compile(r'docs/(\w+)\.md "([^"]+)"(?: and "([^"]+)")?')
    found, broken = 0, []
    for name in files:
        text = (repo_root / name).read_text(errors="replace").replace("\n// ", " ").replace("\n# ", " ")
        for match in reference.finditer(" ".join(text.split())):
            page = repo_root / "docs" / f"{match.group(1)}.md"
            headings = set(re.findall(r"^## (.+)$", page.read_text(), re.M)) if page.is_file() else set()
            for section in filter(None, match.groups()[1:]):
                found += 1
                if section not in headings:
                    broken.append(f"{name}: docs/{match.group(1)}.md \"{section}\"")
    assert found > 20 and not broken, broken
