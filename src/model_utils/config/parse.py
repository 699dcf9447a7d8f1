"""The command line over the schema: `parse_config` (every key a flag of its YAML type, aliases, per-script
defaults, checks) returning a `Config`, and `flag_value` (one flag's value, for a launcher)."""
import argparse
import ast

import yaml

from src.model_utils.config.checks import check_value
from src.model_utils.config.errors import ConfigError
from src.model_utils.config.schema import DEFAULT_CONFIG, SCRIPTS, load_schema, task_config

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


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
                          f"{schema.values['task']!r}); use --config_path {task_config(resolved['task'])}")
    resolved["config_path"] = known.config_path  # `pre` consumed it, so `parser` only holds the default
    for key, spec in schema.checks.items():
        where = f"--{key}" if key in given else f"config file {schema.origin.get(key, known.config_path)}"
        check_value(key, resolved[key], spec, where)
    return Config(resolved)
