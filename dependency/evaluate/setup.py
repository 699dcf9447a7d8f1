"""The old model zoo's preparation step for its WIDER evaluator, kept working:

    cd dependency/evaluate && python setup.py install

compiled the evaluator's Cython overlap kernel. Here every Cython extension of the repository is built in place by
the root's setup.py (what `make build` does; the evaluator also runs without it, on its numpy twin). Nothing is
installed: the evaluator runs from the repository (`python eval.py` here, `python dependency/evaluate/eval.py` or
`python -m dependency.evaluate.eval` from the root).
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ("install", "build", "build_ext", "develop")

if __name__ == "__main__":
    if not set(sys.argv[1:]) & set(COMMANDS):
        print(f"error: expected one of {', '.join(COMMANDS)} (e.g. python setup.py install): the Cython extensions "
              "are built in place, nothing else is done", file=sys.stderr)
        sys.exit(2)
    done = subprocess.call([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=ROOT)
    if done == 0:
        print(f"built the Cython extensions in place under {ROOT} (the WIDER evaluator's box overlaps among them); "
              "nothing to install: run the evaluator from the repository")
    sys.exit(done)
