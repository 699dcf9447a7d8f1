"""Tests for src/model_utils/config/parse.py: every key a flag of its YAML type, aliases of the old zoos' flags,
per-script defaults, unknown keys named, --help, the Config object; importing the package has no side effects.

Every expected value below is written by hand from the YAML written in the test, not read back from the parser.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from src.model_utils.config import Config, ConfigError, parse_config


def test_defaults_keep_yaml_types(typed_yaml, parse):
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
def test_cli_value_parsed_with_yaml_type(typed_yaml, argv, key, expected, parse):
    value = getattr(parse(typed_yaml, *argv), key)
    assert value == expected
    assert type(value) is type(expected)
    if isinstance(expected, list):
        assert [type(v) for v in value] == [type(v) for v in expected]


def test_int_given_to_float_key_becomes_float(typed_yaml, parse):
    rate = parse(typed_yaml, "--rate", "2").rate
    assert rate == 2.0 and isinstance(rate, float)


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
def test_unknown_key_is_named(typed_yaml, argv, names, parse):
    with pytest.raises(ConfigError, match="unknown config key") as err:
        parse(typed_yaml, *argv)
    for name in names:
        assert name in str(err.value)
    assert "\n" not in str(err.value)


def test_abbreviated_key_is_not_accepted(typed_yaml, parse):
    # `--cou 3` must not silently set `count` (allow_abbrev=False).
    with pytest.raises(ConfigError, match="cou"):
        parse(typed_yaml, "--cou", "3")


def test_script_defaults_override_yaml_and_cli_overrides_them(typed_yaml, parse):
    assert parse(typed_yaml, script_defaults={"count": 1}).count == 1
    assert parse(typed_yaml, "--count", "9", script_defaults={"count": 1}).count == 9
    # The YAML file itself is untouched: another call sees the original default.
    assert parse(typed_yaml).count == 3
    with pytest.raises(ConfigError, match="'batch'"):
        parse(typed_yaml, script_defaults={"batch": 1})


def test_nested_mapping_is_a_value(tmp_path, parse):
    path = tmp_path / "nested.yaml"
    path.write_text("heads: {hm: 1, wh: 2}\ncount: 1\n---\nheads: 'outputs'\n")
    assert parse(path).heads == {"hm": 1, "wh": 2}
    assert parse(path, "--heads", "{hm: 1}").heads == {"hm": 1}
    with pytest.raises(ConfigError, match="heads"):
        parse(path, "--heads", "[1, 2]")


def test_help_lists_keys_with_their_help(typed_yaml, capsys, parse):
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
