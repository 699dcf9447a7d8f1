"""Builds the project's Cython extensions in place: `python setup.py build_ext --inplace`.

Every `*.pyx` under `src/` and `dependency/` becomes an extension module next to its source
(e.g. `src/inference/nms_cy.pyx` -> `src.inference.nms_cy`). Each one has a pure-numpy twin that is
used when the extension is not built; tests check that both agree.
"""
from pathlib import Path

import numpy as np
from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent


def _extensions():
    from Cython.Build import cythonize

    exts = []
    for pyx in sorted([*ROOT.glob("src/**/*.pyx"), *ROOT.glob("dependency/**/*.pyx")]):
        rel = pyx.relative_to(ROOT).with_suffix("")
        exts.append(Extension(".".join(rel.parts), [str(pyx.relative_to(ROOT))],
                              include_dirs=[np.get_include()],
                              extra_compile_args=["-O3"],
                              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]))
    return cythonize(exts, language_level=3, quiet=True)


setup(name="centerface-mindspore", version="0.1.0", packages=[], ext_modules=_extensions())
