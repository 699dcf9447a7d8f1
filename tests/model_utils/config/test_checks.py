"""Tests for src/model_utils/config/checks.py: a value outside its key's type or checks is one error naming the key,
the value and where it came from.

Every expected value below is written by hand from the YAML written in the test, not read back from the parser.
"""
import pytest

from src.model_utils.config import ConfigError, check_value, parse_config
from src.model_utils.config.checks import typed


@pytest.mark.parametrize("argv, key, bad", [
    (["--flag", "maybe"], "flag", "maybe"),
    (["--count", "3.5"], "count", "3.5"),
    (["--count", "three"], "count", "three"),
    (["--rate", "fast"], "rate", "fast"),
    (["--sizes", "1,b"], "sizes", "b"),
])
def test_bad_value_names_key_and_value(typed_yaml, argv, key, bad, parse):
    with pytest.raises(ConfigError) as err:
        parse(typed_yaml, *argv)
    message = str(err.value)
    assert f"--{key}" in message and bad in message
    assert "\n" not in message


def test_choices_enforced_for_scalars_and_lists(typed_yaml, parse):
    with pytest.raises(ConfigError, match="mode"):
        parse(typed_yaml, "--mode", "FAST")
    with pytest.raises(ConfigError, match="metrics.*'f1'"):
        parse(typed_yaml, "--metrics", "ap,f1")


@pytest.mark.parametrize("flag", ["--output_path", "--save_result_dir", "--save_dir"])
def test_an_empty_output_folder_is_refused_not_taken_as_the_current_folder(flag):
    with pytest.raises(ConfigError, match=r"'output_path': empty value; expected one"):
        parse_config([flag, ""], script="predict")
    assert parse_config([flag, "runs/a"], script="predict").output_path == "runs/a"


@pytest.mark.parametrize("value, spec, pattern", [
    (3, {"min": 4}, "value 3 is below the minimum 4"),
    (9, {"max": 8}, "value 9 is above the maximum 8"),
    ([32, 48], {"multiple_of": 32}, "value 48 is not a multiple of 32"),
    ([1, 2, 3], {"len": [1, 2]}, r"\[1, 2, 3\] has 3 elements; expected 1 or 2"),
    ("", {"nonempty": True}, "empty value; expected one"),
    (["a"], {"min": 0}, "value 'a' is not a number"),
    ("c", ["a", "b"], r"value 'c' not in \['a', 'b'\]"),
])
def test_check_value_names_the_key_the_value_and_where(value, spec, pattern):
    with pytest.raises(ConfigError, match=rf"config key 'k': {pattern} \(--k\)"):
        check_value("k", value, spec, "--k")


@pytest.mark.parametrize("value, spec", [(4, {"min": 4, "max": 4}), ([64, 96], {"multiple_of": 32, "len": 2}),
                                         (None, {"min": 1}), ("b", ["a", "b"]), (1, None)])
def test_check_value_passes_values_inside_their_checks(value, spec):
    check_value("k", value, spec, "--k")


def test_a_file_value_takes_its_keys_type_and_a_bad_list_element_is_named():
    assert typed("rate", 2, 0.5, "f.yaml") == 2.0 and isinstance(typed("rate", 2, 0.5, "f.yaml"), float)
    assert typed("sizes", [3, 4], [1], "f.yaml") == [3, 4]
    with pytest.raises(ConfigError, match=r"f.yaml: key 'sizes\[1\]': expected an integer, got 'x' \(str\)"):
        typed("sizes", [3, "x"], [1], "f.yaml")
    with pytest.raises(ConfigError, match=r"key 'count': expected an integer, got True \(bool\)"):
        typed("count", True, 3, "f.yaml")
