"""Package discovery: every package under hipposim/, and models/ installed as hipposim.models.

A new subfolder with an ``__init__.py`` ships without editing a list (the
wheel's contents are checked by tests/test_layout.py).
"""
from setuptools import find_packages, setup

framework = find_packages(include=["hipposim", "hipposim.*"])
library = ["hipposim.models"] + [f"hipposim.models.{p}" for p in find_packages("models")]
setup(packages=framework + library, package_dir={"hipposim.models": "models"})
