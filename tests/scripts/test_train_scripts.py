"""Tests for the training launchers scripts/train_*.sh: strictness, usage and argument errors, the commands
they would run (DRY_RUN=1), process start-up through a stub python (exit codes, logs, rank-table
environment), and a real 2-worker msrun data-parallel CPU run whose ranks must end with identical weights
after reading different samples. shellcheck of every script: tests/scripts/test_common.py."""
import functools
import os
import re
import shlex
import socket
import sys
from pathlib import Path

import pytest

from tests.scripts import helpers
from tests.scripts.helpers import ROOT, STUB, assert_strict_and_executable, install_stub, option, rank_table
from tests.training_runs import checkpoint_digests, state_lines

SCRIPTS = ["train_standalone.sh", "train_distribute.sh", "train_standalone_gpu.sh", "train_distribute_gpu.sh",
           "train_standalone_cpu.sh", "train_distribute_cpu.sh"]
MIN_ARGS = {"train_standalone.sh": 3, "train_standalone_gpu.sh": 3, "train_standalone_cpu.sh": 3,
            "train_distribute.sh": 4, "train_distribute_gpu.sh": 4, "train_distribute_cpu.sh": 4}
MSRUN = [sys.executable, "-m", "mindspore.parallel.cluster.run"]
PATH_PREFIX = f"PATH={Path(sys.executable).parent}:$PATH"
run_script = functools.partial(helpers.run_script, timeout=120)


TWO_SERVERS = rank_table(("10.0.0.1", [(0, 0), (1, 1)]), ("10.0.0.2", [(4, 2), (5, 3)]))


@pytest.fixture()
def data(tmp_path):
    """(train_json, image_dir, output_path) placeholders: the launchers only check that they exist."""
    (tmp_path / "train.json").write_text("{}")
    (tmp_path / "images").mkdir()
    return tmp_path / "train.json", tmp_path / "images", tmp_path / "out"


@pytest.fixture()
def stub(tmp_path):
    """(env, read_calls): PYTHON replaced by the recording stub; read_calls() -> [(env values, args)]."""
    env, read_rows = install_stub(tmp_path, STUB)

    def read_calls():
        return [(row[:4], row[4:]) for row in read_rows()]
    return {**env, "REAL_PYTHON": sys.executable}, read_calls


def dry_run(name, *args, env=None):
    """The command lines a launcher prints with DRY_RUN=1, each split like the shell would."""
    result = run_script(name, *args, env={"DRY_RUN": "1", **(env or {})})
    assert result.returncode == 0, result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


def train_args(data):
    """(script, data arguments) of the train.py command a launcher builds for `data`."""
    json_path, images, out = data
    return [str(ROOT / "train.py")], ["--train_json", str(json_path), "--train_image_dir", str(images),
                                       "--output_path", str(out)]


# ---------------------------------------------------------------- static checks and usage

@pytest.mark.parametrize("name", SCRIPTS)
def test_strict_executable_and_usage(name):
    assert_strict_and_executable(ROOT / "scripts" / name)
    missing = run_script(name, *["x"] * (MIN_ARGS[name] - 1))
    assert missing.returncode == 2
    assert f"usage: bash scripts/{name}" in missing.stderr
    assert f"error: expected at least {MIN_ARGS[name]} arguments, got {MIN_ARGS[name] - 1}" in missing.stderr
    helped = run_script(name, "--help")
    assert helped.returncode == 0 and "usage:" in helped.stderr and "PYTHON" in helped.stderr


@pytest.mark.parametrize("name, args, env, message", [
    ("train_standalone_cpu.sh", ["{tmp}/none.json", "{img}", "{out}"], {}, "TRAIN_JSON {tmp}/none.json: no such file"),
    ("train_standalone_cpu.sh", ["{json}", "{tmp}/none", "{out}"], {}, "TRAIN_IMAGE_DIR {tmp}/none: no such folder"),
    ("train_standalone.sh", ["{json}", "{img}", "{out}", "x1"], {}, "DEVICE_ID x1: expected"),
    ("train_standalone_gpu.sh", ["{json}", "{img}", "{out}", "-1"], {}, "DEVICE_ID -1: expected"),
    ("train_standalone_gpu.sh", ["{tmp}/none.json", "{img}", "{out}"], {}, "TRAIN_JSON {tmp}/none.json"),
    ("train_distribute_cpu.sh", ["0", "{json}", "{img}", "{out}"], {}, "WORKER_NUM 0: expected a positive"),
    ("train_distribute_cpu.sh", ["2", "{json}", "{tmp}/none", "{out}"], {}, "TRAIN_IMAGE_DIR {tmp}/none"),
    ("train_distribute_cpu.sh", ["2", "{json}", "{img}", "{out}"], {"MASTER_PORT": "80"}, "MASTER_PORT 80:"),
    ("train_distribute_cpu.sh", ["2", "{json}", "{img}", "{out}"], {"MASTER_PORT": "8x"}, "MASTER_PORT 8x:"),
    ("train_distribute_cpu.sh", ["2", "{json}", "{img}", "{out}"], {"PYTHON": "no-such-python"},
     "PYTHON no-such-python: not found"),
    ("train_distribute_gpu.sh", ["two", "{json}", "{img}", "{out}"], {}, "DEVICE_NUM two: expected"),
    ("train_distribute_gpu.sh", ["2", "{json}", "{img}", "{out}"], {"LAUNCHER": "horovod"}, "LAUNCHER horovod:"),
    ("train_distribute_gpu.sh", ["2", "{json}", "{img}", "{out}"], {"MASTER_PORT": "70000"}, "MASTER_PORT 70000"),
    ("train_distribute.sh", ["{tmp}/rt.json", "{json}", "{img}", "{out}"], {},
     "RANK_TABLE_FILE|DEVICE_NUM {tmp}/rt.json: neither a file nor a positive integer"),
    ("train_distribute.sh", ["{json}", "{json}", "{img}", "{out}"], {},
     "RANK_TABLE_FILE {json}: not an HCCL rank table"),
    ("train_distribute.sh", ["{table}", "{json}", "{img}", "{out}"], {},
     "lists servers ['10.0.0.1', '10.0.0.2']: set SERVER_ID"),
    ("train_distribute.sh", ["{table}", "{json}", "{img}", "{out}"], {"SERVER_ID": "10.0.0.9"},
     "SERVER_ID 10.0.0.9: not in RANK_TABLE_FILE"),
])
def test_argument_validation(tmp_path, data, stub, name, args, env, message):
    (tmp_path / "table.json").write_text(TWO_SERVERS)
    fill = {"{tmp}": str(tmp_path), "{json}": str(data[0]), "{img}": str(data[1]), "{out}": str(data[2]),
            "{table}": str(tmp_path / "table.json")}

    def expand(text):
        for key, value in fill.items():
            text = text.replace(key, value)
        return text
    stub_env, calls = stub
    result = run_script(name, *map(expand, args), env={**stub_env, **env})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: ") and expand(message) in result.stderr
    assert calls() == [] and not data[2].exists()  # nothing was started or created


# ---------------------------------------------------------------- the commands they run

def test_standalone_commands(data):
    head, tail = train_args(data)
    py = sys.executable
    assert dry_run("train_standalone.sh", *data, "3", "--epochs", "2") == [
        [py, *head, "--device_target", "Ascend", "--device_id", "3", *tail, "--epochs", "2"]]
    assert dry_run("train_standalone_gpu.sh", *data, "--lr", "0.1") == [
        [py, *head, "--device_target", "GPU", "--device_id", "0", *tail, "--lr", "0.1"]]
    assert dry_run("train_standalone_cpu.sh", *data, "--resume", "True") == [
        [py, *head, "--device_target", "CPU", *tail, "--resume", "True"]]
    assert not data[2].exists()


def test_msrun_commands(data):
    head, tail = train_args(data)
    out = data[2]

    def msrun(num, port):
        return [PATH_PREFIX, *MSRUN, f"--worker_num={num}", f"--local_worker_num={num}", f"--master_port={port}",
                f"--log_dir={out}/msrun_log", "--join=True", *head, "--is_distributed", "True"]
    assert dry_run("train_distribute_cpu.sh", "2", *data, "--epochs", "1", env={"MASTER_PORT": "29000"}) == [
        [*msrun(2, 29000), "--device_target", "CPU", *tail, "--epochs", "1"]]
    assert dry_run("train_distribute_gpu.sh", "8", *data) == [[*msrun(8, 8118), "--device_target", "GPU", *tail]]
    assert dry_run("train_distribute.sh", "8", *data, "--lr", "0.004") == [
        [*msrun(8, 8118), "--device_target", "Ascend", *tail, "--lr", "0.004"]]
    assert not out.exists()


def test_mpirun_command(data):
    head, tail = train_args(data)
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    assert dry_run("train_distribute_gpu.sh", "4", *data, "--x", "1", env={"LAUNCHER": "mpirun"}) == [
        ["mpirun", *root, "-n", "4", "--output-filename", f"{data[2]}/mpirun_log", "--merge-stderr-to-stdout",
         sys.executable, *head, "--is_distributed", "True", "--device_target", "GPU", *tail, "--x", "1"]]


def test_rank_table_commands_one_per_device_of_this_server(tmp_path, data):
    table = tmp_path / "table.json"
    table.write_text(TWO_SERVERS)
    head, tail = train_args(data)
    lines = dry_run("train_distribute.sh", table, *data, "--lr", "0.004", env={"SERVER_ID": "10.0.0.2"})
    expected = [["env", f"RANK_TABLE_FILE={table}", f"DEVICE_ID={device}", f"RANK_ID={rank}", "RANK_SIZE=4",
                 sys.executable, *head, "--is_distributed", "True", "--device_target", "Ascend", *tail,
                 "--lr", "0.004", "--device_id", str(device)] for device, rank in ((4, 2), (5, 3))]
    assert lines == expected


# ---------------------------------------------------------------- starting processes (stub python)

def test_standalone_cpu_logs_and_passes_the_exit_code(data, stub):
    env, calls = stub
    result = run_script("train_standalone_cpu.sh", *data, "--epochs", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert (data[2] / "train.log").read_text() == "stub training output\n"
    _, args = calls()[0]
    assert option(args, "--device_target") == "CPU" and args[-2:] == ["--epochs", "1"]
    failed = run_script("train_standalone_cpu.sh", *data, env={**env, "STUB_EXIT": "2"})
    assert failed.returncode == 2  # train.py's exit code survives the log
    # a refused run (exit 2 before train.py accepted the folder) leaves the earlier log as it was
    assert (data[2] / "train.log").read_text() == "stub training output\n"
    again = run_script("train_standalone_cpu.sh", *data, "--resume", "True", env=env)
    assert again.returncode == 0 and (data[2] / "train.log").read_text() == "stub training output\n" * 2


def test_a_refused_run_creates_no_folder_and_no_log(data, stub):
    env, _ = stub
    failed = run_script("train_standalone_cpu.sh", *data, env={**env, "STUB_EXIT": "2"})
    assert failed.returncode == 2 and "stub training output" in failed.stdout
    assert not data[2].exists()


def test_ctrl_c_keeps_the_runs_last_lines_in_the_log(tmp_path, data):
    """Ctrl-C reaches the whole process group, the log writer too: the run's "interrupted; last checkpoint" line
    (train.py prints it after the signal) must still reach train.log."""
    import signal
    import subprocess

    stub = tmp_path / "interruptible_python.sh"
    stub.write_text("""#!/usr/bin/env bash
out="${@: -1}"
mkdir -p "${out}" && echo '{"script": "stub"}' >"${out}/.run.json"
trap 'sleep 0.5; echo "error: interrupted; last checkpoint ${out}/ckpt/0-1_2.ckpt"; exit 130' INT
echo "training"
while true; do sleep 0.1; done
""")
    stub.chmod(0o755)
    # As from a terminal, SIGINT at its default: a test run earlier in this process may have left it ignored
    # (MindSpore's runtime takes SIGINT over), and an ignored signal is inherited and cannot be trapped by bash.
    proc = subprocess.Popen(["bash", str(helpers.SCRIPTS_DIR / "train_standalone_cpu.sh"), *map(str, data),
                             "--output_path", str(data[2])], env={**os.environ, "PYTHON": str(stub)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in proc.stdout:
        if line == "training\n":
            break
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert (data[2] / "train.log").read_text() == (
        f"training\nerror: interrupted; last checkpoint {data[2]}/ckpt/0-1_2.ckpt\n")


def test_rank_table_starts_every_local_rank_and_reports_failures(tmp_path, data, stub):
    table = tmp_path / "table.json"
    table.write_text(rank_table(("10.0.0.1", [(0, 0), (1, 1)])))
    env, calls = stub
    result = run_script("train_distribute.sh", table, *data, env=env)
    assert result.returncode == 0, result.stderr
    started = sorted((tuple(e), option(args, "--device_id")) for e, args in calls())
    assert started == [((str(table), "0", "0", "2"), "0"), ((str(table), "1", "1", "2"), "1")]
    for rank in (0, 1):
        assert (data[2] / "log" / f"train_rank{rank}.log").read_text() == "stub training output\n"
    failed = run_script("train_distribute.sh", table, *data, env={**env, "STUB_FAIL_RANK": "1"})
    assert failed.returncode == 1 and "2 process(es), 1 failed" in failed.stdout


# ---------------------------------------------------------------- real data-parallel run on CPU


def test_two_cpu_workers_end_with_identical_weights_after_reading_different_samples(tmp_path):
    """msrun, 2 workers, 12 synthetic images, batch 2 per worker: 3 all-reduced steps. Every rank logs digests
    of its trainable weights, optimizer state and BatchNorm moving statistics; rank 0's digests are recomputed
    here from its checkpoint, so equal logged digests mean every parameter of rank 1 equals rank 0's."""
    from src.data.synthetic import generate

    paths = generate(str(tmp_path / "data"), 12, 0, seed=3, image_size=160, min_face=12, max_face=120,
                     progress=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "run"
    result = run_script("train_distribute_cpu.sh", "2", paths["train_json"], paths["train_images"], out,
                        "--epochs", "1", "--batch_size", "2", "--train_size", "128,128", "--log_interval", "1",
                        "--num_workers", "1", "--seed", "7", env={"MASTER_PORT": str(port)}, timeout=400)
    worker_logs = "".join(p.read_text() for p in sorted((out / "msrun_log").glob("worker_*.log")))
    assert result.returncode == 0, (result.stdout + result.stderr + worker_logs)[-5000:]
    logs = [(out / f"log_rank{r}.txt").read_text() for r in (0, 1)]

    # Different samples: each rank logged its shard; together they cover the 12 images exactly once.
    shards = []
    for rank, log in enumerate(logs):
        found = re.findall(rf"epoch 1 shard {rank}/2: 6 images: ([\d,]+)$", log, re.M)
        assert len(found) == 1, log[-3000:]
        shards.append({int(i) for i in found[0].split(",")})
    assert len(shards[0]) == len(shards[1]) == 6 and shards[0] | shards[1] == set(range(12))

    initial = [state_lines(log, "initial") for log in logs]
    final = [state_lines(log, "final") for log in logs]
    assert [r for r, _ in final] == [0, 1]
    assert initial[0][1] == initial[1][1]  # same seed: identical start, BN statistics included
    assert final[0][1]["weights"] == final[1][1]["weights"]
    assert final[0][1]["optimizer"] == final[1][1]["optimizer"]
    assert final[0][1]["weights"] != initial[0][1]["weights"]  # the steps did update the weights
    # BatchNorm moving statistics follow each rank's own batches (only gradients are all-reduced): they
    # start equal and end different, a second sign that the ranks trained on different images.
    assert final[0][1]["moving_stats"] != final[1][1]["moving_stats"]

    # Only rank 0 saves; its checkpoint is what rank 0 logged.
    assert sorted(p.name for p in (out / "ckpt").iterdir()) == ["0-1_3.ckpt"]
    assert checkpoint_digests(out / "ckpt" / "0-1_3.ckpt") == final[0][1]
    assert re.findall(r"epoch:1, iter:(\d), avg_loss", logs[0]) == ["1", "2", "3"]
    assert "epoch:1, iter" not in logs[1]  # rank 1 does not repeat the zoo lines
