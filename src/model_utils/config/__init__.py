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

One module per job: `schema` reads files into a Schema, `checks` types and checks values, `parse` turns the
command line into a Config, `save` writes a run's resolved config, `reference` generates docs/configuration.md
(`python -m src.model_utils.config`); this module re-exports their public names.
"""
from src.model_utils.config.checks import check_value
from src.model_utils.config.errors import ConfigError
from src.model_utils.config.parse import Config, flag_value, parse_config
from src.model_utils.config.reference import REFERENCE_HEADER, reference_markdown
from src.model_utils.config.save import save_config
from src.model_utils.config.schema import (BASE_KEY, DEFAULT_CONFIG, ROOT, SCRIPTS, SCRIPTS_KEY, Schema, load_schema,
                                           load_yaml)

__all__ = ["BASE_KEY", "DEFAULT_CONFIG", "REFERENCE_HEADER", "ROOT", "SCRIPTS", "SCRIPTS_KEY", "Config", "ConfigError",
           "Schema", "check_value", "flag_value", "load_schema", "load_yaml", "parse_config", "reference_markdown",
           "save_config"]
