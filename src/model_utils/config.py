"""Configuration: a YAML file sets the defaults, the command line overrides any key with the YAML's type.

The YAML follows the model zoo's layout: document 1 holds the values, optional document 2 a help text per
key, optional document 3 the allowed choices per key. Keys are flat. Nothing happens at import time:
scripts call `parse_config()` in `main()` and pass values to constructors explicitly.

    cfg = parse_config(argv)                 # --config_path picks another YAML
    cfg.lr, cfg.to_dict(), save_config(cfg, out_dir)
"""
import argparse
import ast
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "default_config.yaml"
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


class ConfigError(ValueError):
    """A configuration file or value is not what the schema expects."""


class Config:
    """Attribute access over a flat dict of resolved values."""

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


def load_yaml(path):
    """Return (values, help, choices) from a zoo-style multi-document YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path}: no such file")
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path}: not valid YAML ({err})") from None
    docs += [{}] * (3 - len(docs))
    values, helps, choices = (d or {} for d in docs[:3])
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: the first document must be a mapping of key: value")
    if "config_path" in values:
        raise ConfigError(f"config file {path}: 'config_path' is reserved for the command line, not a config key")
    for key, value in values.items():
        if isinstance(value, dict):
            raise ConfigError(f"config file {path}: key {key!r} holds a mapping; keys must be flat")
    unknown = sorted(set(choices) - set(values))
    if unknown:
        raise ConfigError(f"config file {path}: choices given for unknown key(s) {unknown}")
    return values, helps, choices


def _parse_bool(text):
    low = str(text).strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false), got {text!r}")


def _parse_literal(text):
    """YAML scalar or flow sequence: '3' -> 3, '[1, 2]' -> [1, 2], 'null' -> None, 'abc' -> 'abc'."""
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
        raise ConfigError(message)


def parse_config(argv=None, default_path=DEFAULT_CONFIG, description=None, script_defaults=None):
    """Resolve the configuration from `--config_path` (default `default_config.yaml`) and `argv`.

    `script_defaults` lets one script start from other values for a few keys (export.py's batch_size is 1
    where training's is 8); they must be keys of the YAML.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config_path", default=str(default_path), help="YAML file with the defaults")
    known, rest = pre.parse_known_args(argv)
    values, helps, choices = load_yaml(known.config_path)
    for key, value in (script_defaults or {}).items():
        if key not in values:
            raise ConfigError(f"script default for unknown key {key!r} (not in {known.config_path})")
        values[key] = value

    parser = _RaisingParser(description=description, parents=[pre], allow_abbrev=False)
    for key, default in values.items():
        kwargs = {"default": default, "type": _value_parser(key, default), "help": str(helps.get(key, ""))}
        if key in choices and not isinstance(default, (list, tuple)):
            kwargs["choices"] = choices[key]
        if isinstance(default, (list, tuple)):
            kwargs["metavar"] = "A,B,..."
        parser.add_argument(f"--{key}", **kwargs)
    args, unknown = parser.parse_known_args(rest)
    if unknown:
        names = [u.split("=")[0] for u in unknown if u.startswith("--")] or unknown
        raise ConfigError(f"unknown config key(s) {names} (not in {known.config_path}); "
                          f"see `--help` for the known keys")
    resolved = vars(args)
    resolved["config_path"] = known.config_path  # `pre` consumed it, so `parser` only holds the default
    for key, allowed in choices.items():
        value = resolved[key]
        items = value if isinstance(value, (list, tuple)) else [value]
        bad = [v for v in items if v not in allowed]
        if bad:
            raise ConfigError(f"config key {key!r}: value {bad[0]!r} not in {allowed} ({known.config_path})")
    return Config(resolved)


def save_config(config, out_dir, name="config.yaml"):
    """Write the resolved configuration next to a run's outputs (atomically)."""
    from src.io_utils import atomic_write_bytes

    values = config.to_dict()
    # config_path is where the defaults came from, not a setting: kept as a comment so the file is reusable
    # as `--config_path`.
    header = f"# resolved from {values.pop('config_path')}\n" if "config_path" in values else ""
    path = Path(out_dir) / name
    atomic_write_bytes(path, (header + yaml.safe_dump(values, sort_keys=False)).encode("utf-8"))
    return path


def markdown_table(path=DEFAULT_CONFIG):
    """The keys of a config file as a Markdown table (key, default, help) for README.md."""
    values, helps, choices = load_yaml(path)
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key, value in values.items():
        text = str(helps.get(key, "")).replace("|", "\\|")
        if key in choices:
            text += f" (one of {', '.join(map(str, choices[key]))})"
        rows.append(f"| `{key}` | `{yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}` | {text} |")
    return "\n".join(rows)


if __name__ == "__main__":
    import sys

    print(markdown_table(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_CONFIG))
