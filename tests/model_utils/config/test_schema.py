"""Tests for src/model_utils/config/schema.py: reading config files (documents, __BASE__ chains, override files over
the shipped config, per-script defaults, aliases, checks given in files), errors naming the file and key; the
shipped configs.

Every expected value below is written by hand from the YAML written in the test, not read back from the parser.
"""
import pytest
import yaml

from src.model_utils.config import DEFAULT_CONFIG, ConfigError, load_schema, load_yaml, parse_config
from src.tasks import task_config_path, task_names
from tests.conftest import ROOT


def test_config_path_selects_another_file_that_defines_keys(tmp_path, typed_yaml, parse):
    other = tmp_path / "other.yaml"
    other.write_text("count: 11\nextra_key: 'x'\n---\ncount: 'how many'\nextra_key: 'an extra'\n")
    cfg = parse(other)
    assert cfg.count == 11 and cfg.extra_key == "x"
    assert "flag" not in cfg  # a file with a help document defines its keys
    with pytest.raises(ConfigError, match="flag"):
        parse(other, "--flag", "true")


def test_partial_override_file_is_laid_over_the_shipped_config(tmp_path, parse):
    """A file without a help document sets a few keys of its task's shipped config; CLI flags still work."""
    partial = tmp_path / "mine.yaml"
    partial.write_text("lr: 0.001\nmilestones: [3, 4]\n")
    cfg = parse(partial, "--batch_size", "4")
    assert (cfg.lr, cfg.milestones, cfg.batch_size) == (0.001, [3, 4], 4)
    assert cfg.neck_width == 24 and cfg.task == "centerface"  # the rest: default_config.yaml


@pytest.mark.parametrize("text, pattern", [
    ("batch_size: '4'\n", r"mine\.yaml: key 'batch_size': expected an integer, got '4' \(str\)"),
    ("lr: abc\n", r"mine\.yaml: key 'lr': expected a number, got 'abc'"),
    ("train_size: [320, x]\n", r"mine\.yaml: key 'train_size\[1\]': expected an integer"),
    ("flip_test: 'yes'\n", r"key 'flip_test': expected a boolean"),
    ("no_such: 1\n", r"mine\.yaml: unknown config key 'no_such'"),
    ("score_thresh: 2.0\n", r"'score_thresh': value 2\.0 is above the maximum 1 \(config file .*mine\.yaml\)"),
    ("task: other\n", r"task 'other': unknown; expected one of " + ", ".join(sorted(task_names()))),
])
def test_file_values_are_checked_like_cli_values(tmp_path, text, pattern, parse):
    partial = tmp_path / "mine.yaml"
    partial.write_text(text)
    with pytest.raises(ConfigError, match=pattern) as err:
        parse(partial)
    assert "\n" not in str(err.value)


def test_base_chain_script_defaults_aliases_and_checks(tmp_path, parse):
    base = tmp_path / "base.yaml"
    base.write_text("size: [64, 64]\nthresh: 0.5\nout: 'a'\n__SCRIPTS__:\n  test: {thresh: 0.1}\n"
                    "---\nsize: 'H,W'\nthresh: 't'\nout: 'o'\n"
                    "---\nsize: {len: [0, 2], multiple_of: 32}\nthresh: {min: 0, max: 1}\n"
                    "---\nold_out: out\n")
    child = tmp_path / "child.yaml"
    child.write_text("__BASE__: base.yaml\nthresh: 0.7\nextra: 3\n---\nextra: 'new key, documented'\n")
    cfg = parse(child)
    assert (cfg.size, cfg.thresh, cfg.out, cfg.extra) == ([64, 64], 0.7, "a", 3)
    assert parse(child, script="test").thresh == 0.1  # the script's default ...
    assert parse(child, "--thresh", "0.3", script="test").thresh == 0.3  # ... under the command line
    assert parse(child, "--old_out", "b").out == "b"  # alias
    with pytest.raises(ConfigError, match=r"'size': value 100 is not a multiple of 32 \(--size\)"):
        parse(child, "--size", "100,96")
    with pytest.raises(ConfigError, match=r"'size': \[32\] has 1 elements; expected 0 or 2"):
        parse(child, "--size", "32")
    loop = tmp_path / "loop.yaml"
    loop.write_text("__BASE__: loop.yaml\na: 1\n---\na: 'x'\n")
    with pytest.raises(ConfigError, match="chain loops"):
        parse(loop)


def test_null_in_a_base_file_must_be_stated_by_every_config_extending_it(tmp_path, parse):
    """configs/base.yaml leaves keys without a model-neutral value (a recipe's lr) null: a config extending it
    that does not state them is refused, naming them; a stated value keeps its own type on the command line."""
    base = tmp_path / "base.yaml"
    base.write_text("lr: null\nepochs: null\nseed: 1\n---\nlr: 'learning rate'\n---\nlr: {min: 0}\n")
    silent = tmp_path / "silent.yaml"
    silent.write_text("__BASE__: base.yaml\nepochs: 3\n---\n")
    with pytest.raises(ConfigError, match=r"silent.yaml: no value for 'lr'; .*base.yaml leaves it to each model's"):
        parse(silent)
    stated = tmp_path / "stated.yaml"
    stated.write_text("__BASE__: base.yaml\nlr: 0.5\nepochs: 3\n---\n")
    assert (parse(stated, "--lr", "1").lr, parse(stated).epochs) == (1.0, 3)
    with pytest.raises(ConfigError, match=r"'lr': value -1.0 is below the minimum 0"):
        parse(stated, "--lr=-1")


@pytest.mark.parametrize("text, pattern", [
    ("- 1\n- 2\n", "mapping"),
    ("a: [1, 2\n", "not valid YAML"),
])
def test_malformed_file_is_a_clear_error(tmp_path, text, pattern):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_yaml(path)
    assert str(path) in str(err.value)


def test_missing_config_file_named(tmp_path, parse):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml.*no such file"):
        parse(missing)


@pytest.mark.parametrize("text, pattern", [
    ("mode: 'FAST'\n---\n---\nmode: ['GRAPH', 'PYNATIVE']\n", "'mode'.*'FAST'"),  # a default outside its choices
    ("mode: 'GRAPH'\n---\n---\nmodee: ['GRAPH']\n", "modee"),  # choices for an unknown key
    ("config_path: 'x.yaml'\ncount: 1\n", "'config_path' is reserved"),
])
def test_a_file_the_schema_refuses_is_named_with_the_reason(tmp_path, parse, text, pattern):
    path = tmp_path / "refused.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=pattern):
        parse(path)


@pytest.mark.parametrize("path", [DEFAULT_CONFIG, DEFAULT_CONFIG.parent / "configs" / "centernet_pose.yaml"])
def test_shipped_configs_parse_and_document_every_key(path):
    schema = load_schema(path)
    cfg = parse_config(["--config_path", str(path)])
    assert cfg.device_target == "CPU" and isinstance(cfg.batch_size, int)
    assert isinstance(cfg.enable_modelarts, bool) and isinstance(cfg.score_thresh, float)
    undocumented = sorted(set(schema.values) - set(schema.helps))
    assert not undocumented, f"{path.name} keys without help text: {undocumented}"
    for script in ("train", "predict", "test", "eval", "export", "preprocess", "postprocess"):
        parse_config(["--config_path", str(path)], script=script)  # every script's defaults pass the checks


@pytest.mark.parametrize("task", task_names())
def test_every_registered_config_states_the_base_files_null_keys(task):
    """Each registered model's shipped config gives every key configs/base.yaml leaves null a value of its own (else
    the loader refuses it, as the test above shows): a model added to the registry is checked by registering it."""
    base, _, _ = load_yaml(ROOT / "configs" / "base.yaml")
    nulls = sorted(key for key, value in base.items() if value is None)
    assert "lr" in nulls and "max_input_side" in nulls  # the base file does leave keys to the models
    cfg = parse_config(["--config_path", str(task_config_path(task))])
    assert cfg.task == task and [key for key in nulls if getattr(cfg, key) is None] == []
