"""Ship runtime/, templates/ and targets/ inside the wheel as dnnc/_runtime, dnnc/_templates, dnnc/_targets.

Everything else is declared in pyproject.toml. The copy happens in build_py, so a wheel (and a plain
`pip install .`) carries the trees as ordinary files beside the package; an editable install reads them
from the checkout instead (dnnc.resources).
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RESOURCE_TREES = {"runtime": "_runtime", "templates": "_templates", "targets": "_targets"}


class BuildPyWithResources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        for tree, name in RESOURCE_TREES.items():
            dest = Path(self.build_lib) / "dnnc" / name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(root / tree, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithResources})
