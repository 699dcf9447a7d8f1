"""Values against the schema: a file's value coerced to its key's type, and a key's checks (document 3)."""
from src.model_utils.config.errors import ConfigError

_CHECK_NAMES = ("min", "max", "multiple_of", "len", "nonempty")


def _type_name(value):
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__)


def typed(key, value, default, where):
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
            return [typed(f"{key}[{i}]", v, default[0], where) for i, v in enumerate(value)]
        return list(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise bad("a mapping")
        return dict(value)
    return value


def check_spec(path, key, spec):
    if isinstance(spec, list):
        return
    if not isinstance(spec, dict) or not spec or set(spec) - set(_CHECK_NAMES):
        raise ConfigError(f"config file {path}: checks for {key!r} must be a list of allowed values or a mapping "
                          f"of {', '.join(_CHECK_NAMES)}, got {spec!r}")


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
