"""docs/configuration.md, generated from the config files shipped for the tasks (`python -m
src.model_utils.config > docs/configuration.md`; tests/test_readme.py checks the page is current)."""
import yaml

from src.model_utils.config.schema import ROOT, load_schema, load_yaml, shipped_configs


REFERENCE_HEADER = """\
# Configuration reference

<!-- Generated from the config files by `python -m src.model_utils.config > docs/configuration.md`; edit the
YAML files (values, help, checks, aliases), not this page. -->

Each model has one config file, named by the registry (`src/tasks/__init__.py`): `default_config.yaml`
(CenterFace, the default) and `configs/centernet_pose.yaml` (`--config_path configs/centernet_pose.yaml`). Both
extend `configs/base.yaml` (`__BASE__`), which holds the keys the shared machinery reads, with model-neutral
values; a key without one is `null` there and every model's config states it. A file has up to four YAML
documents: values, help, checks (allowed values, or `min`/`max`/`multiple_of`/`len`/`nonempty`) and aliases
(the old zoos' names for a key). Every key can be given on the command line with its YAML type
(`--is_distributed true`, `--milestones 90,120`, `--train_size 320,320`, `--input_size ""` for an empty list).
An unknown key, a badly typed value or a value outside its checks is a one-line error naming the key and where
it came from (a flag or a file); so is a combination the model cannot run (the task's `check_config`). A
`--config_path` file without a help document is an override file: it sets a few keys over its task's shipped
config (`task:` names the task; CenterFace by default), checked like flags. `__SCRIPTS__` gives per-script
defaults (test.py tests at 832x832 where predict.py keeps the original size: one key, two defaults). Each run
saves its resolved configuration (`config.yaml` in its output folder; reloadable with `--config_path`).

Two keys are easy to confuse: `mode` is MindSpore's execution mode (GRAPH or PYNATIVE, every script), `run_mode`
the COCO split a CenterNet evaluation runs on (val or test-dev).
"""


def _shown(value):
    if value is None:
        return "(each model's)"
    return yaml.safe_dump(value, default_flow_style=True, width=10 ** 6).strip().removesuffix("...").strip()


def _key_rows(schema, keys):
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in keys:
        text = str(schema.helps.get(key, "")).replace("|", "\\|")
        spec = schema.checks.get(key)
        if isinstance(spec, list):
            text += f" (one of {', '.join(map(str, spec))})"
        elif spec:
            text += " (" + ", ".join(f"{k} {v}" for k, v in spec.items()) + ")"
        rows.append(f"| `{key}` | `{_shown(schema.values[key])}` | {text} |")
    return rows


def reference_markdown():
    """docs/configuration.md: the shared keys, each model's own keys and per-script defaults, and the one table of
    other accepted names (aliases), all from the config files shipped for the tasks (`shipped_configs`)."""
    base_path = ROOT / "configs" / "base.yaml"
    base = load_schema(base_path)
    lines = [REFERENCE_HEADER, "## Shared keys (`configs/base.yaml`)", "", *_key_rows(base, base.values), ""]
    accepted = {alias: [target, []] for alias, target in base.aliases.items()}
    for name, path in shipped_configs().items():
        relative = path.relative_to(ROOT).as_posix()
        schema = load_schema(path)
        values, helps, checks = load_yaml(path)
        own = [key for key in schema.values if key in values or key in helps or key in checks]
        lines += [f"## {name} (`{relative}`)", "",
                  "The keys this model adds, or sets, or means more specifically than the shared table says:", "",
                  *_key_rows(schema, own), ""]
        if schema.scripts:
            lines += ["Per-script defaults:", "", "| script | defaults |", "|---|---|"]
            lines += [f"| {script} | " + ", ".join(f"`{k}` `{_shown(v)}`" for k, v in defaults.items()) + " |"
                      for script, defaults in schema.scripts.items()]
            lines.append("")
        for alias, target in schema.aliases.items():
            if alias not in base.aliases:
                accepted.setdefault(alias, [target, []])[1].append(name)
    lines += ["## Other accepted names", "",
              "Only the old model zoos' names (their READMEs and configs) stand for a key; each concept has one "
              "name otherwise.", "", "| flag | stands for | accepted by |", "|---|---|---|"]
    lines += [f"| `--{alias}` | `{target}` | {', '.join(models) if models else 'every model'} |"
              for alias, (target, models) in accepted.items()]
    return "\n".join(lines) + "\n"
