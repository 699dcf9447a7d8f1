"""Reading config files: the four YAML documents of a file, its `__BASE__` chain (or its task's shipped config),
merged into one Schema of values, help texts, checks, aliases and per-script defaults."""
from pathlib import Path

import yaml

from src.model_utils.config.checks import check_spec, typed
from src.model_utils.config.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = ROOT / "default_config.yaml"
BASE_KEY = "__BASE__"
SCRIPTS_KEY = "__SCRIPTS__"
SCRIPTS = ("train", "predict", "test", "eval", "export", "preprocess", "postprocess")


class Schema:
    """What a chain of config files defines: values, help, checks, aliases, and which file set each value."""

    def __init__(self):
        self.values, self.helps, self.checks, self.aliases, self.origin = {}, {}, {}, {}, {}
        self.scripts = {}  # script -> {key: default for that script}
        self.bases = set()  # files another file of the chain extends (`__BASE__`)

    def canonical(self, key):
        """The key an alias stands for (a key stands for itself)."""
        return self.aliases.get(key, key)


# ---------------------------------------------------------------- reading files

def _read_documents(path):
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path}: no such file")
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path}: not valid YAML ({' '.join(str(err).split())})") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path}: cannot be read ({err})") from None
    if len(docs) > 4:
        raise ConfigError(f"config file {path}: {len(docs)} YAML documents; expected at most 4 (values, help, "
                          f"checks, aliases)")
    docs += [None] * (4 - len(docs))
    values, helps, checks, aliases = (d if d is not None else {} for d in docs)
    for name, doc in (("first (values)", values), ("second (help)", helps), ("third (checks)", checks),
                      ("fourth (aliases)", aliases)):
        if not isinstance(doc, dict):
            raise ConfigError(f"config file {path}: the {name} document must be a mapping of key: value")
    if "config_path" in values:
        raise ConfigError(f"config file {path}: 'config_path' is reserved for the command line, not a config key")
    return values, helps, checks, aliases


def load_yaml(path):
    """Return (values, help, checks) of one file as written (no base, no aliases applied)."""
    values, helps, checks, _ = _read_documents(path)
    values = {k: v for k, v in values.items() if k not in (BASE_KEY, SCRIPTS_KEY)}
    return values, helps, checks



def _merge_file(schema, path, defines_keys, root):
    values, helps, checks, aliases = _read_documents(path)
    for alias, target in aliases.items():
        if target not in schema.values and target not in values:
            raise ConfigError(f"config file {path}: alias {alias!r} names unknown key {target!r}")
        schema.aliases[alias] = target
    for key, value in values.items():
        if key in (BASE_KEY, SCRIPTS_KEY):
            continue
        canonical = schema.canonical(key)
        if canonical in schema.values:
            value = typed(canonical, value, schema.values[canonical], f"config file {path}")
        elif not defines_keys:
            raise ConfigError(f"config file {path}: unknown config key {key!r} (not defined by {root}); "
                              f"see `--help` for the known keys")
        schema.values[canonical] = value
        schema.origin[canonical] = str(path)
    scripts = values.get(SCRIPTS_KEY) or {}
    if not isinstance(scripts, dict):
        raise ConfigError(f"config file {path}: {SCRIPTS_KEY} must map script names to {{key: value}}")
    for script, overrides in scripts.items():
        if script not in SCRIPTS or not isinstance(overrides, dict):
            raise ConfigError(f"config file {path}: {SCRIPTS_KEY}: {script!r} must be one of {SCRIPTS} with a "
                              f"mapping of key: value")
        for key, value in overrides.items():
            canonical = schema.canonical(key)
            if canonical not in schema.values:
                raise ConfigError(f"config file {path}: {SCRIPTS_KEY}.{script}: unknown config key {key!r}")
            schema.scripts.setdefault(script, {})[canonical] = typed(
                canonical, value, schema.values[canonical], f"config file {path} ({SCRIPTS_KEY}.{script})")
    schema.helps.update(helps)
    for key, spec in checks.items():
        if schema.canonical(key) not in schema.values:
            raise ConfigError(f"config file {path}: checks given for unknown key {key!r}")
        check_spec(path, key, spec)
        schema.checks[schema.canonical(key)] = spec


def shipped_configs():
    """Task name -> the config file shipped for it: `default_config.yaml` for the task it names (CenterFace, the
    old zoo's file) and `configs/<task>.yaml` for every other model (a file there whose `task` is its own name).
    Found by this rule, not from the registry: the config layer sits below `src/tasks` (docs/structure.md), and
    tests/model_utils/config/test_reference.py checks that the registry names the same files."""
    found = {_read_documents(DEFAULT_CONFIG)[0].get("task"): DEFAULT_CONFIG}
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        if _read_documents(path)[0].get("task") == path.stem:
            found.setdefault(path.stem, path)
    return found


def task_config(task):
    """The config file shipped for `task` (ConfigError naming the known tasks otherwise)."""
    configs = shipped_configs()
    try:
        return configs[task]
    except (KeyError, TypeError):
        raise ConfigError(f"task {task!r}: unknown; expected one of {', '.join(configs)}") from None


def load_schema(path):
    """The Schema of `path`: its `__BASE__` chain (or, for an override file, its task's shipped config) with
    the file laid over it."""
    chain, current, seen = [], Path(path), set()
    while True:
        resolved = current.resolve()
        if resolved in seen:
            raise ConfigError(f"config file {path}: {BASE_KEY} chain loops back to {current}")
        seen.add(resolved)
        values, helps, _, _ = _read_documents(current)
        chain.append((current, bool(helps)))
        base = values.get(BASE_KEY)
        if base is None:
            if not chain[-1][1]:  # an override file: over its task's shipped config
                task = values.get("task")
                if task is not None and not isinstance(task, str):
                    raise ConfigError(f"config file {current}: key 'task': expected a string, got {task!r}")
                shipped = task_config(task) if task is not None else DEFAULT_CONFIG
                if shipped.resolve() in seen:
                    raise ConfigError(f"config file {current}: no help document, so it cannot define keys")
                current = shipped
                continue
            break
        if not isinstance(base, str):
            raise ConfigError(f"config file {current}: {BASE_KEY} must be a file name, got {base!r}")
        current = (current.parent / base)
        if not current.is_file():
            raise ConfigError(f"config file {chain[-1][0]}: {BASE_KEY} {base}: no such file ({current})")
    schema = Schema()
    schema.bases = {str(file_path) for file_path, _ in chain[1:]}
    for file_path, defines_keys in reversed(chain):
        _merge_file(schema, file_path, defines_keys, chain[-1][0])
    return schema
