"""The C extension of consentkit-speedups (its metadata is in pyproject.toml)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("consentkit_speedups", ["consentkit_speedups.c"])])
