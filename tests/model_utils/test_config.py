"""Tests for src/model_utils/config.py: YAML-typed CLI parsing, errors that name the key, save round trip.

Every expected value below is written by hand from the YAML written in the test, not read back from the parser.
"""
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from src.model_utils.config import DEFAULT_CONFIG, Config, ConfigError, load_schema, load_yaml, parse_config, save_config
from src.tasks import task_config_path, task_names
from tests.conftest import ROOT

TYPED_YAML = """\
flag: False
on_flag: True
count: 3
rate: 0.5
name: "abc"
sizes: [1, 2]
names: ["a", "b"]
milestones: []
nothing: null
mode: "GRAPH"
metrics: ["ap"]
---
flag: "a boolean switch"
count: "how many"
---
mode: ["GRAPH", "PYNATIVE"]
metrics: ["ap", "ar"]
"""


@pytest.fixture()
def typed_yaml(tmp_path):
    path = tmp_path / "typed.yaml"
    path.write_text(TYPED_YAML)
    return path


def parse(path, *argv, **kwargs):
    return parse_config(["--config_path", str(path), *argv], **kwargs)


def test_defaults_keep_yaml_types(typed_yaml):
    cfg = parse(typed_yaml)
    assert cfg.to_dict() == {"config_path": str(typed_yaml), "flag": False, "on_flag": True, "count": 3,
                             "rate": 0.5, "name": "abc", "sizes": [1, 2], "names": ["a", "b"], "milestones": [],
                             "nothing": None, "mode": "GRAPH", "metrics": ["ap"]}


@pytest.mark.parametrize("argv, key, expected", [
    (["--flag", "true"], "flag", True),
    (["--flag", "Yes"], "flag", True),
    (["--flag", "1"], "flag", True),
    (["--on_flag", "false"], "on_flag", False),
    (["--on_flag", "0"], "on_flag", False),
    (["--on_flag=off"], "on_flag", False),
    (["--count", "7"], "count", 7),
    (["--count", "-2"], "count", -2),
    (["--rate", "1e-3"], "rate", 1e-3),
    (["--name", "123"], "name", "123"),  # str default: digits stay a string
    (["--name", "true"], "name", "true"),
    (["--sizes", "3,4,5"], "sizes", [3, 4, 5]),
    (["--sizes", "[5, 6]"], "sizes", [5, 6]),
    (["--sizes", ""], "sizes", []),
    (["--names", "x,y"], "names", ["x", "y"]),
    (["--milestones", "90,120"], "milestones", [90, 120]),  # empty default: elements parsed as YAML scalars
    (["--nothing", "5"], "nothing", 5),
    (["--nothing", "abc"], "nothing", "abc"),
    (["--nothing", "null"], "nothing", None),
    (["--mode", "PYNATIVE"], "mode", "PYNATIVE"),
    (["--metrics", "ap,ar"], "metrics", ["ap", "ar"]),
])
def test_cli_value_parsed_with_yaml_type(typed_yaml, argv, key, expected):
    value = getattr(parse(typed_yaml, *argv), key)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(expected, list):
        assert [type(v) for v in value] == [type(v) for v in expected]


def test_int_given_to_float_key_becomes_float(typed_yaml):
    rate = parse(typed_yaml, "--rate", "2").rate
    assert rate == 2.0 and isinstance(rate, float)


def test_config_path_selects_another_file_that_defines_keys(tmp_path, typed_yaml):
    other = tmp_path / "other.yaml"
    other.write_text("count: 11\nextra_key: 'x'\n---\ncount: 'how many'\nextra_key: 'an extra'\n")
    cfg = parse(other)
    assert cfg.count == 11 and cfg.extra_key == "x"
    assert "flag" not in cfg  # a file with a help document defines its keys
    with pytest.raises(ConfigError, match="flag"):
        parse(other, "--flag", "true")


def test_partial_override_file_is_laid_over_the_shipped_config(tmp_path):
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
    ("task: other\n", r"task 'other': unknown; expected one of centerface, centernet_pose"),
])
def test_file_values_are_checked_like_cli_values(tmp_path, text, pattern):
    partial = tmp_path / "mine.yaml"
    partial.write_text(text)
    with pytest.raises(ConfigError, match=pattern) as err:
        parse(partial)
    assert "\n" not in str(err.value)


def test_base_chain_script_defaults_aliases_and_checks(tmp_path):
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



def test_null_in_a_base_file_must_be_stated_by_every_config_extending_it(tmp_path):
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


@pytest.mark.parametrize("task", task_names())
def test_every_registered_config_states_the_base_files_null_keys(task):
    """Each registered model's shipped config gives every key configs/base.yaml leaves null a value of its own (else
    the loader refuses it, as the test above shows): a model added to the registry is checked by registering it."""
    base, _, _ = load_yaml(ROOT / "configs" / "base.yaml")
    nulls = sorted(key for key, value in base.items() if value is None)
    assert "lr" in nulls and "max_input_side" in nulls  # the base file does leave keys to the models
    cfg = parse_config(["--config_path", str(task_config_path(task))])
    assert cfg.task == task and [key for key in nulls if getattr(cfg, key) is None] == []


def test_aliases_of_the_old_zoos_flags():
    cfg = parse_config(["--save_dir", "o", "--gt", "g", "--pred", "p", "--epoch_size", "3"])
    assert (cfg.output_path, cfg.ground_truth_path, cfg.pred_dir, cfg.epochs) == ("o", "g", "p", 3)
    export = parse_config(["--ckpt_file", "b.ckpt"], script="export")
    assert (export.ckpt_path, export.input_size, export.batch_size) == ("b.ckpt", [640, 640], 1)
    assert parse_config(["--load_checkpoint_path", "c.ckpt"]).ckpt_path == "c.ckpt"
    pose = ["--config_path", "configs/centernet_pose.yaml"]
    pose_cfg = parse_config([*pose, "--K", "7", "--input_res", "256,256", "--down_ratio", "4", "--flip_prop", "0.3"])
    assert (pose_cfg.top_k, pose_cfg.input_size, pose_cfg.output_stride, pose_cfg.aug_flip_prob) == \
        (7, [256, 256], 4, 0.3)


@pytest.mark.parametrize("flag", ["--ckpt", "--pretrained", "--out_dir", "--test_input_size", "--input_h", "--iou",
                                  "--color_aug"])
def test_names_that_are_not_the_old_zoos_are_not_aliases(flag):
    """One name per concept: only the seed READMEs' names stand for a key (docs/configuration.md)."""
    with pytest.raises(ConfigError, match=f"unknown config key.*{flag}"):
        parse_config([flag, "1"])


def test_task_comes_from_the_config_file():
    with pytest.raises(ConfigError, match=r"--task centernet_pose: the task comes from the config file"):
        parse_config(["--task", "centernet_pose"])


@pytest.mark.parametrize("argv, names", [
    (["--no_such_key", "1"], ["no_such_key"]),
    (["--no_such_key=1"], ["no_such_key"]),
    (["--count", "2", "--typo_a", "1", "--typo_b", "2"], ["typo_a", "typo_b"]),
])
def test_unknown_key_is_named(typed_yaml, argv, names):
    with pytest.raises(ConfigError, match="unknown config key") as err:
        parse(typed_yaml, *argv)
    for name in names:
        assert name in str(err.value)
    assert "\n" not in str(err.value)


def test_abbreviated_key_is_not_accepted(typed_yaml):
    # `--cou 3` must not silently set `count` (allow_abbrev=False).
    with pytest.raises(ConfigError, match="cou"):
        parse(typed_yaml, "--cou", "3")


@pytest.mark.parametrize("argv, key, bad", [
    (["--flag", "maybe"], "flag", "maybe"),
    (["--count", "3.5"], "count", "3.5"),
    (["--count", "three"], "count", "three"),
    (["--rate", "fast"], "rate", "fast"),
    (["--sizes", "1,b"], "sizes", "b"),
])
def test_bad_value_names_key_and_value(typed_yaml, argv, key, bad):
    with pytest.raises(ConfigError) as err:
        parse(typed_yaml, *argv)
    message = str(err.value)
    assert f"--{key}" in message and bad in message
    assert "\n" not in message


def test_choices_enforced_for_scalars_and_lists(typed_yaml):
    with pytest.raises(ConfigError, match="mode"):
        parse(typed_yaml, "--mode", "FAST")
    with pytest.raises(ConfigError, match="metrics.*'f1'"):
        parse(typed_yaml, "--metrics", "ap,f1")


def test_default_outside_choices_is_rejected(tmp_path):
    path = tmp_path / "bad_default.yaml"
    path.write_text("mode: 'FAST'\n---\n---\nmode: ['GRAPH', 'PYNATIVE']\n")
    with pytest.raises(ConfigError, match="'mode'.*'FAST'"):
        parse(path)


def test_choices_for_unknown_key_rejected(tmp_path):
    path = tmp_path / "bad_choices.yaml"
    path.write_text("mode: 'GRAPH'\n---\n---\nmodee: ['GRAPH']\n")
    with pytest.raises(ConfigError, match="modee"):
        parse(path)


def test_script_defaults_override_yaml_and_cli_overrides_them(typed_yaml):
    assert parse(typed_yaml, script_defaults={"count": 1}).count == 1
    assert parse(typed_yaml, "--count", "9", script_defaults={"count": 1}).count == 9
    # The YAML file itself is untouched: another call sees the original default.
    assert parse(typed_yaml).count == 3
    with pytest.raises(ConfigError, match="'batch'"):
        parse(typed_yaml, script_defaults={"batch": 1})


def test_nested_mapping_is_a_value(tmp_path):
    path = tmp_path / "nested.yaml"
    path.write_text("heads: {hm: 1, wh: 2}\ncount: 1\n---\nheads: 'outputs'\n")
    assert parse(path).heads == {"hm": 1, "wh": 2}
    assert parse(path, "--heads", "{hm: 1}").heads == {"hm": 1}
    with pytest.raises(ConfigError, match="heads"):
        parse(path, "--heads", "[1, 2]")


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


def test_missing_config_file_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="nope.yaml.*no such file"):
        parse(missing)


def test_help_lists_keys_with_their_help(typed_yaml, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(typed_yaml, "--help")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--flag" in out and "a boolean switch" in out and "how many" in out


def test_config_object_rejects_unknown_attributes():
    cfg = Config({"a": 1})
    cfg.a = 2
    assert cfg.a == 2
    with pytest.raises(AttributeError, match="'b'"):
        _ = cfg.b
    with pytest.raises(AttributeError, match="'b'"):
        cfg.b = 3
    # to_dict is a copy: editing it does not change the config.
    cfg.to_dict()["a"] = 5
    assert cfg.a == 2


def test_save_config_round_trip(tmp_path, typed_yaml):
    cfg = parse(typed_yaml, "--sizes", "7,8", "--nothing", "null", "--flag", "true")
    out_dir = tmp_path / "run"
    path = save_config(cfg, out_dir)
    assert path == out_dir / "config.yaml"
    settings = {k: v for k, v in cfg.to_dict().items() if k != "config_path"}
    # config_path is provenance, not a setting: it is written as a comment; the keys came from typed.yaml, so
    # the saved file (which sets every key) is laid over it
    assert yaml.safe_load(path.read_text()) == {"__BASE__": str(typed_yaml.resolve()), **settings}
    assert path.read_text().splitlines()[0] == f"# resolved from {typed_yaml}"
    assert sorted(os.listdir(out_dir)) == ["config.yaml"]  # the temporary file was moved, not left behind
    shipped = save_config(parse_config(["--lr", "0.01"]), tmp_path / "shipped")
    assert "__BASE__" not in yaml.safe_load(shipped.read_text())  # over default_config.yaml: portable
    assert parse_config(["--config_path", str(shipped)]).lr == 0.01
    # The saved file is itself a valid config for the parser (a run can be repeated from it).
    again = parse(path)
    assert {k: v for k, v in again.to_dict().items() if k != "config_path"} == settings
    assert again.config_path == str(path)


def test_config_path_key_in_yaml_is_rejected(tmp_path):
    path = tmp_path / "reserved.yaml"
    path.write_text("config_path: 'x.yaml'\ncount: 1\n")
    with pytest.raises(ConfigError, match="'config_path' is reserved"):
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


def test_import_has_no_side_effects(repo_root):
    code = textwrap.dedent("""
        import os, sys
        before = dict(os.environ)
        import src.model_utils.config, src.model_utils.device, src.model_utils.cli, export
        assert 'mindspore' not in sys.modules, 'mindspore imported'
        assert dict(os.environ) == before, 'environment changed'
        print('ok')
    """)
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}
    res = subprocess.run([sys.executable, "-c", code], cwd=repo_root, env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


@pytest.mark.parametrize("flag", ["--output_path", "--save_result_dir", "--save_dir"])
def test_an_empty_output_folder_is_refused_not_taken_as_the_current_folder(flag):
    with pytest.raises(ConfigError, match=r"'output_path': empty value; expected one"):
        parse_config([flag, ""], script="predict")
    assert parse_config([flag, "runs/a"], script="predict").output_path == "runs/a"
