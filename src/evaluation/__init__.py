"""WIDER FACE test-set inference (test.py) and the offline (Ascend 310 style) inference chain."""
