"""Configuration: YAML files set the defaults, the command line overrides any key with the YAML's type.

Files follow the model zoo's layout, extended by two optional documents:

1. values (``key: value``; nested mappings are allowed as values; ``null`` is an untyped value, except in a file
   another one extends: there it means "no neutral value", and a config extending it must state one); the
   reserved key
   ``__BASE__: other.yaml`` (relative to this file) makes the file extend another one, and ``__SCRIPTS__:
   {script: {key: value}}`` gives per-script defaults (test.py tests at 832x832 where predict.py keeps the
   original size: one key, ``input_size``, with two defaults);
2. a help text per key;
3. checks per key: a list of allowed values, or a mapping of ``min``, ``max`` (inclusive), ``multiple_of`` and
   ``len`` (allowed list lengths) applied to a number or to every element of a list;
4. aliases: ``flag: key`` accepts ``--flag`` (and ``flag:`` in files) for ``key``: the old zoos' names only, one
   canonical name per concept otherwise (docs/configuration.md lists them all).

A file with a help document (or a ``__BASE__``) defines keys: it may add new ones. Any other file is an override
file: it is laid over the shipped config of its ``task`` (``default_config.yaml`` when it names none) and may
only set keys that config defines. Values from files are checked like values from the command line (type,
checks), naming the key and the file. Nothing happens at import time: scripts call `parse_config()` in `main()`.

    cfg = parse_config(argv)                 # --config_path picks another YAML
    cfg.lr, cfg.to_dict(), save_config(cfg, out_dir)
"""
import argparse
import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "default_config.yaml"
BASE_KEY = "__BASE__"
SCRIPTS_KEY = "__SCRIPTS__"
SCRIPTS = ("train", "predict", "test", "eval", "export", "preprocess", "postprocess")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}
_CHECK_NAMES = ("min", "max", "multiple_of", "len", "nonempty")


class ConfigError(ValueError):
    """A configuration file or value is not what the schema expects."""


class Config:
    """Attribute access over a dict of resolved values."""

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key):
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __setattr__(self, key, value):
        if key not in self._values:
            raise AttributeError(f"config has no key {key!r}")
        self._values[key] = value

    def __contains__(self, key):
        return key in self._values

    def to_dict(self):
        return dict(self._values)

    def __repr__(self):
        return "\n".join(f"{k}: {v!r}" for k, v in self._values.items())


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


def _type_name(value):
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__)


def _typed(key, value, default, where):
    """`value` (from a file) as the type of `default`; ConfigError naming key and file when it is not."""
    def bad(expected):
        return ConfigError(f"{where}: key {key!r}: expected {expected}, got {value!r} ({_type_name(value)})")

    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("a boolean (true/false)")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        if default:
            return [_typed(f"{key}[{i}]", v, default[0], where) for i, v in enumerate(value)]
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad("a mapping")
        return dict(value)
    return value


def _check_spec(path, key, spec):
    if isinstance(spec, list):
        return
    if not isinstance(spec, dict) or not spec or set(spec) - set(_CHECK_NAMES):
        raise ConfigError(f"config file {path}: checks for {key!r} must be a list of allowed values or a mapping "
                          f"of {', '.join(_CHECK_NAMES)}, got {spec!r}")


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
            value = _typed(canonical, value, schema.values[canonical], f"config file {path}")
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
            schema.scripts.setdefault(script, {})[canonical] = _typed(
                canonical, value, schema.values[canonical], f"config file {path} ({SCRIPTS_KEY}.{script})")
    schema.helps.update(helps)
    for key, spec in checks.items():
        if schema.canonical(key) not in schema.values:
            raise ConfigError(f"config file {path}: checks given for unknown key {key!r}")
        _check_spec(path, key, spec)
        schema.checks[schema.canonical(key)] = spec


def _task_config(task):
    from src.tasks import task_config_path

    return task_config_path(task)


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
                shipped = _task_config(task) if task is not None else DEFAULT_CONFIG
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


# ---------------------------------------------------------------- command-line values

def _parse_bool(text):
    low = str(text).strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


def _parse_literal(text):
    """YAML scalar or flow collection: '3' -> 3, '[1, 2]' -> [1, 2], 'null' -> None, 'abc' -> 'abc'."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _element_parser(example):
    if isinstance(example, bool):
        return _parse_bool
    if isinstance(example, int):
        return int
    if isinstance(example, float):
        return float
    if isinstance(example, str):
        return str
    return _parse_literal


def _value_parser(key, default):
    """A function str -> value of the default's type, raising ArgumentTypeError with the key's name."""
    if isinstance(default, (list, tuple)):
        elem = _element_parser(default[0]) if default else _parse_literal

        def parse(text):
            text = text.strip()
            if text.startswith("["):
                try:
                    items = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    items = _parse_literal(text)
                if not isinstance(items, (list, tuple)):
                    raise argparse.ArgumentTypeError(f"expected a list, got {text!r}")
            else:
                items = [t for t in text.split(",") if t.strip()] if text else []
            try:
                return [elem(str(i).strip()) for i in items]
            except (argparse.ArgumentTypeError, ValueError) as err:
                raise argparse.ArgumentTypeError(f"bad list element ({err})") from None
        return parse
    if isinstance(default, dict):
        def parse_mapping(text):
            value = _parse_literal(text)
            if not isinstance(value, dict):
                raise argparse.ArgumentTypeError(f"expected a mapping such as '{{a: 1, b: 2}}', got {text!r}")
            return value
        return parse_mapping
    base = _element_parser(default) if default is not None else _parse_literal

    def parse_scalar(text):
        try:
            return base(text)
        except ValueError:
            kind = type(default).__name__
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    return parse_scalar


class _RaisingParser(argparse.ArgumentParser):
    """argparse that raises ConfigError (one line, names the key) instead of printing usage and exiting."""

    def error(self, message):
        if message.endswith("expected one argument"):  # e.g. `--input_size -32,-32`: argparse takes it for a flag
            message += " (a value starting with '-' is written --key=value)"
        raise ConfigError(message)


def _rewrite_aliases(argv, schema):
    """argv with every `--alias` (or `--alias=value`) replaced by its `--key`."""
    out = []
    for item in argv:
        if item.startswith("--"):
            name, eq, inline = item[2:].partition("=")
            if name in schema.aliases:
                item = f"--{schema.aliases[name]}{eq}{inline}"
        out.append(item)
    return out


def flag_value(argv, key, default, config_path=DEFAULT_CONFIG):
    """The value command-line `argv` gives `key` (its last `--key value` or `--key=value`, by any of its names in
    `config_path`), else `default`: what a launcher must know before the script runs, e.g. the output folder that
    receives its log (scripts/common.sh asks this instead of copying the alias table)."""
    argv = _rewrite_aliases(list(argv), load_schema(config_path))
    value = default
    for i, item in enumerate(argv):
        name, eq, inline = item.partition("=")
        if name == f"--{key}":
            value = inline if eq else argv[i + 1] if i + 1 < len(argv) else value
    return value


def check_value(key, value, spec, where):
    """Apply one key's checks (document 3) to `value`; ConfigError naming the key, value and source."""
    if spec is None:
        return
    items = value if isinstance(value, (list, tuple)) else [value]
    if isinstance(spec, list):
        bad = [v for v in items if v not in spec]
        if bad:
            raise ConfigError(f"config key {key!r}: value {bad[0]!r} not in {spec} ({where})")
        return
    if spec.get("nonempty") and value in ("", None):
        # e.g. `--output_path ""`: an empty folder name would silently mean the current folder
        raise ConfigError(f"config key {key!r}: empty value; expected one ({where})")
    if "len" in spec and isinstance(value, (list, tuple)):
        lengths = spec["len"] if isinstance(spec["len"], list) else [spec["len"]]
        if len(value) not in lengths:
            raise ConfigError(f"config key {key!r}: {list(value)} has {len(value)} elements; expected "
                              f"{' or '.join(map(str, lengths))} ({where})")
    numeric = any(name in spec for name in ("min", "max", "multiple_of"))
    for item in items:
        if numeric and isinstance(item, str):  # e.g. `--input_size a,b`: the elements of an empty default are untyped
            raise ConfigError(f"config key {key!r}: value {item!r} is not a number ({where})")
        if item is None or isinstance(item, (bool, str, dict, list)):
            continue
        if "min" in spec and item < spec["min"]:
            raise ConfigError(f"config key {key!r}: value {item!r} is below the minimum {spec['min']} ({where})")
        if "max" in spec and item > spec["max"]:
            raise ConfigError(f"config key {key!r}: value {item!r} is above the maximum {spec['max']} ({where})")
        if "multiple_of" in spec and item % spec["multiple_of"]:
            raise ConfigError(f"config key {key!r}: value {item!r} is not a multiple of {spec['multiple_of']} "
                              f"({where})")


def parse_config(argv=None, default_path=DEFAULT_CONFIG, description=None, script=None, script_defaults=None):
    """Resolve the configuration from `--config_path` (default `default_config.yaml`) and `argv`.

    `script` (e.g. "test") applies that script's defaults of the config files (`__SCRIPTS__`);
    `script_defaults` adds a few more from the caller (tests). Both must name keys of the config.
    """
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config_path", default=str(default_path), help="YAML file with the defaults")
    known, rest = pre.parse_known_args(argv)
    schema = load_schema(known.config_path)
    values = dict(schema.values)
    unset = [key for key, value in values.items() if value is None and schema.origin.get(key) in schema.bases]
    if unset:
        raise ConfigError(f"config file {known.config_path}: no value for {', '.join(map(repr, unset))}; "
                          f"{schema.origin[unset[0]]} leaves {'it' if len(unset) == 1 else 'them'} to each "
                          f"model's config")
    if script is not None and script not in SCRIPTS:
        raise ConfigError(f"parse_config: script {script!r} is not one of {SCRIPTS}")
    values.update(schema.scripts.get(script, {}))
    for key, value in (script_defaults or {}).items():
        if key not in values:
            raise ConfigError(f"script default for unknown key {key!r} (not in {known.config_path})")
        values[key] = value

    rest = _rewrite_aliases(rest, schema)
    parser = _RaisingParser(description=description, parents=[pre], allow_abbrev=False)
    for key, default in values.items():
        help_text = str(schema.helps.get(key, ""))
        flags = [a for a, target in schema.aliases.items() if target == key]
        if flags:
            help_text += f" (also --{', --'.join(flags)})"
        kwargs = {"default": default, "type": _value_parser(key, default), "help": help_text}
        spec = schema.checks.get(key)
        if isinstance(spec, list) and not isinstance(default, (list, tuple)):
            kwargs["choices"] = spec
        if isinstance(default, (list, tuple)):
            kwargs["metavar"] = "A,B,..."
        parser.add_argument(f"--{key}", **kwargs)
    args, unknown = parser.parse_known_args(rest)
    if unknown:
        names = [u.split("=")[0] for u in unknown if u.startswith("--")] or unknown
        raise ConfigError(f"unknown config key(s) {names} (not in {known.config_path}); "
                          f"see `--help` for the known keys")
    resolved = vars(args)
    given = {a.split("=")[0][2:] for a in rest if a.startswith("--")}
    if "task" in given and "task" in schema.values and resolved["task"] != schema.values["task"]:
        raise ConfigError(f"--task {resolved['task']}: the task comes from the config file ({known.config_path} is "
                          f"{schema.values['task']!r}); use --config_path {_task_config(resolved['task'])}")
    resolved["config_path"] = known.config_path  # `pre` consumed it, so `parser` only holds the default
    for key, spec in schema.checks.items():
        where = f"--{key}" if key in given else f"config file {schema.origin.get(key, known.config_path)}"
        check_value(key, resolved[key], spec, where)
    return Config(resolved)


def save_config(config, out_dir, name="config.yaml"):
    """Write the resolved configuration next to a run's outputs (atomically)."""
    from src.io_utils import atomic_write_bytes

    values = config.to_dict()
    # config_path is where the defaults came from, not a setting: kept as a comment so the file is reusable
    # as `--config_path`. It is an override file setting every key; over the task's shipped config when the
    # keys came from there, else over the file they came from (`__BASE__`).
    source = values.pop("config_path", None)
    header = f"# resolved from {source}\n" if source else ""
    if source:
        try:
            shipped = _task_config(values["task"]).resolve() if "task" in values else None
        except ConfigError:
            shipped = None
        if Path(source).resolve() != shipped:
            header += yaml.safe_dump({BASE_KEY: str(Path(source).resolve())})
    path = Path(out_dir) / name
    atomic_write_bytes(path, (header + yaml.safe_dump(values, sort_keys=False)).encode("utf-8"))
    return path


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
    other accepted names (aliases), all from the config files of the registered tasks."""
    from src.tasks import task_config_path, task_names

    base_path = ROOT / "configs" / "base.yaml"
    base = load_schema(base_path)
    lines = [REFERENCE_HEADER, "## Shared keys (`configs/base.yaml`)", "", *_key_rows(base, base.values), ""]
    accepted = {alias: [target, []] for alias, target in base.aliases.items()}
    for name in task_names():
        path = task_config_path(name)
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


if __name__ == "__main__":
    print(reference_markdown(), end="")
