"""scripts/run_infer_310.sh for every model: the config (a trailing --config_path FILE or CONFIG=FILE; default
CenterFace's) picks the positional form (CenterFace's GROUND_TRUTH_PATH, or a COCO model's COCO_DIR), names the
MindIR after the config's task and gives the default INPUT_SIZE (the config's). Checked through DRY_RUN's commands,
written out here by hand, and the one-line errors of bad arguments. Real runs: tests/test_infer_310_chain.py
(CenterFace), tests/centernet_det/test_scripts.py (CenterNet detection); the other checks of the script (strictness,
the Ascend runner's build): tests/scripts/test_shell_scripts.py."""
import shlex
import sys

import pytest

from tests.scripts import helpers
from tests.scripts.helpers import ROOT

EXPORT, PREPROCESS, POSTPROCESS = (str(ROOT / name) for name in ("export.py", "preprocess.py", "postprocess.py"))
CPU_RUNNER = str(ROOT / "src" / "infer_mindir_cpu.py")
CONFIGS = {"pose": str(ROOT / "configs" / "centernet_pose.yaml"), "det": str(ROOT / "configs" / "centernet_det.yaml")}
TASKS = {"pose": "centernet_pose", "det": "centernet_det"}


def dry_run(*args, env=None):
    result = helpers.run_script("run_infer_310.sh", *args, env={"DRY_RUN": "1", **(env or {})})
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


@pytest.fixture()
def paths(tmp_path):
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    (tmp_path / "wider").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "wider_face_val.mat").write_bytes(b"")
    for name in ("model.ckpt", "model.mindir", "model.onnx"):
        (tmp_path / name).write_bytes(b"")
    return {key: str(tmp_path / name) for key, name in [
        ("coco", "coco"), ("wider", "wider"), ("gt", "gt"), ("ckpt", "model.ckpt"), ("mindir", "model.mindir"),
        ("onnx", "model.onnx"), ("work", "work")]}


def coco_chain(paths, model, size, *options, mindir=None):
    """The commands of the COCO form (checkpoint exported) with `options` passed on to the Python steps."""
    config = ["--config_path", CONFIGS[model]]
    mindir = mindir or f"{paths['work']}/{TASKS[model]}.mindir"
    pre, result = f"{paths['work']}/preprocess", f"{paths['work']}/result"
    return [
        [sys.executable, EXPORT, *config, "--ckpt_path", paths["ckpt"], "--file_format", "MINDIR", "--file_name",
         mindir[:-len(".mindir")], "--batch_size", "1", "--input_size", size, *options],
        [sys.executable, PREPROCESS, *config, "--data_dir", paths["coco"], "--preprocess_path", pre, "--input_size",
         size, *options],
        [sys.executable, CPU_RUNNER, "--mindir_path", mindir, "--input_path", f"{pre}/input", "--output_path", result,
         "--device_id", "0"],
        [sys.executable, POSTPROCESS, *config, "--preprocess_path", pre, "--result_path", result, "--output_path",
         f"{paths['work']}/pred", "--data_dir", paths["coco"], "--input_size", size, *options],
    ]


@pytest.mark.parametrize("model", ["pose", "det"])
def test_a_coco_model_takes_coco_dir_and_the_configs_task_and_input_size(paths, model):
    """MODEL COCO_DIR WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE]: no ground truth argument, the MindIR named after
    the task, INPUT_SIZE 512,512 from the config (CenterNet's), nothing created by a dry run."""
    commands = dry_run(paths["ckpt"], paths["coco"], paths["work"], "0", "cpu", "--config_path", CONFIGS[model],
                       "--top_k", "10")
    assert commands == coco_chain(paths, model, "512,512", "--top_k", "10")
    assert dry_run(paths["ckpt"], paths["coco"], paths["work"], "0", "cpu", "256,256", f"--config_path={CONFIGS[model]}",
                   ) == coco_chain(paths, model, "256,256")
    assert dry_run(paths["ckpt"], paths["coco"], paths["work"], "0", "cpu",
                   env={"CONFIG": CONFIGS[model]}) == coco_chain(paths, model, "512,512")
    assert not (ROOT / paths["work"]).exists()


def test_a_coco_model_with_a_mindir_and_the_ascend_runner(paths):
    commands = dry_run(paths["mindir"], paths["coco"], paths["work"], "3", "--config_path", CONFIGS["det"],
                       env={"BUILD_DIR": "/b"})
    pre = f"{paths['work']}/preprocess"
    assert commands[0][:2] == [sys.executable, PREPROCESS] and commands[0][-2:] == ["--input_size", "512,512"]
    assert commands[1] == ["bash", str(ROOT / "ascend310_infer" / "build.sh")]
    assert commands[2] == ["/b/main", f"--mindir_path={paths['mindir']}", f"--input_path={pre}/input",
                           f"--output_path={paths['work']}/result", "--device_id=3"]
    assert commands[3][:2] == [sys.executable, POSTPROCESS] and len(commands) == 4


def test_centerface_keeps_the_zoo_form_with_the_default_config(paths):
    """MODEL DATA_DIR GROUND_TRUTH_PATH WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE], no --config_path passed on,
    WORK_DIR/centerface.mindir at 832,832 (the config's test size, the old zoo's)."""
    work, pre = paths["work"], f"{paths['work']}/preprocess"
    commands = dry_run(paths["ckpt"], paths["wider"], f"{paths['gt']}/wider_face_val.mat", work, "0", "cpu")
    assert commands == [
        [sys.executable, EXPORT, "--ckpt_path", paths["ckpt"], "--file_format", "MINDIR", "--file_name",
         f"{work}/centerface", "--batch_size", "1", "--input_size", "832,832"],
        [sys.executable, PREPROCESS, "--data_dir", paths["wider"], "--ground_truth_path", paths["gt"],
         "--preprocess_path", pre, "--input_size", "832,832"],
        [sys.executable, CPU_RUNNER, "--mindir_path", f"{work}/centerface.mindir", "--input_path", f"{pre}/input",
         "--output_path", f"{work}/result", "--device_id", "0"],
        [sys.executable, POSTPROCESS, "--preprocess_path", pre, "--result_path", f"{work}/result", "--output_path",
         f"{work}/pred", "--ground_truth_path", paths["gt"], "--input_size", "832,832"],
    ]
    # The same model named by its config: the same form, the config passed on.
    named = dry_run(paths["mindir"], paths["wider"], paths["gt"], work, "0", "cpu", "--config_path",
                    str(ROOT / "default_config.yaml"))
    assert [c[:4] for c in named if c[1] != CPU_RUNNER] == [
        [sys.executable, PREPROCESS, "--config_path", str(ROOT / "default_config.yaml")],
        [sys.executable, POSTPROCESS, "--config_path", str(ROOT / "default_config.yaml")]]
    assert named[0][-2:] == ["--input_size", "832,832"]


@pytest.mark.parametrize("model, args, message", [
    ("det", ["{ckpt}", "{coco}"], "expected at least 3 arguments, got 2"),
    ("det", ["{ckpt}", "{wider}/none", "{work}"], "COCO_DIR {wider}/none: no such folder"),
    ("pose", ["{onnx}", "{coco}", "{work}"], "MODEL {onnx}: expected a .mindir or a .ckpt file"),
    ("pose", ["{ckpt}", "{coco}", "{work}", "0", "gpu"], "RUNNER gpu: expected ascend or cpu"),
    ("pose", ["{ckpt}", "{coco}", "{work}", "0", "cpu", "512"], "INPUT_SIZE 512: expected H,W"),
    ("pose", ["{ckpt}", "{coco}", "{work}", "x"], "DEVICE_ID x: expected a non-negative integer"),
    (None, ["{ckpt}", "{coco}", "{work}"], "expected at least 4 arguments, got 3"),  # CenterFace needs the GT
    (None, ["{ckpt}", "{wider}", "{gt}/none", "{work}"], "GROUND_TRUTH_PATH {gt}/none: no such folder or file"),
    (None, ["{ckpt}", "{coco}", "{work}", "--config_path", "{wider}/none.yaml"], "CONFIG {wider}/none.yaml: no such"),
    (None, ["{ckpt}", "{coco}", "{work}", "--config_path"], "--config_path: expected a config file after it"),
])
def test_bad_arguments_are_one_line_and_nothing_is_run(paths, model, args, message):
    config = ["--config_path", CONFIGS[model]] if model else []
    result = helpers.run_script("run_infer_310.sh", *[a.format(**paths) for a in args], *config)
    assert result.returncode == 2
    assert f"error: {message.format(**paths)}" in result.stderr.splitlines()[0]
    assert not (ROOT / paths["work"]).exists()


def test_a_config_that_does_not_load_is_one_line(paths, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: centernet_det\ninput_size: [1, 2, 3]\n")
    result = helpers.run_script("run_infer_310.sh", paths["ckpt"], paths["coco"], paths["work"], "--config_path",
                                broken)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: CONFIG {broken}: ")


def test_usage_documents_both_forms():
    result = helpers.run_script("run_infer_310.sh", "--help")
    assert result.returncode == 0
    assert "MODEL DATA_DIR GROUND_TRUTH_PATH WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE]" in result.stderr
    assert "MODEL COCO_DIR WORK_DIR [DEVICE_ID] [RUNNER] [INPUT_SIZE]" in result.stderr
    assert "WORK_DIR/<task>.mindir" in result.stderr
