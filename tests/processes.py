"""Running a script until a line of its output, then signalling it: how the tests interrupt real runs."""
import subprocess


def interrupt_at(command, is_the_line, signum, **popen_kwargs):
    """Start `command`, read its stdout until `is_the_line(line)`, send it `signum` (Ctrl-C is SIGINT, a scheduler's
    stop SIGTERM), wait for it; returns (return code, stderr). The process is killed if the test fails meanwhile."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen_kwargs)
    try:
        for line in proc.stdout:
            if is_the_line(line):
                proc.send_signal(signum)
                break
        _, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stderr
