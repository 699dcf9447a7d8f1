"""WIDER FACE evaluation (official MATLAB algorithm, vectorised): `python dependency/evaluate/eval.py`."""
