"""Test runs over a model's evaluation set (test.py, eval.py), checkpoint sweeps, and the offline (Ascend 310 style)
inference chain's file formats."""
