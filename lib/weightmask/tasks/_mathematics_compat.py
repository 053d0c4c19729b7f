"""Make DeepMind's ``mathematics_dataset`` 1.0.1 (2019) run with today's sympy and numpy.

Two breakages, both in ``mathematics_dataset.sample.polynomials`` and fixed at import time
in the generating process only (site-packages is never edited):

- sympy >= 1.6 moved ``base_solution_linear`` from ``sympy.solvers.diophantine`` into its
  submodule ``sympy.solvers.diophantine.diophantine``: it is made importable from the old place.
- numpy >= 1.24 removed ``np.object`` and numpy 2 removed ``ndarray.itemset``: that module's
  ``np`` becomes a view of numpy whose ``object`` is the builtin and whose ``zeros`` /
  ``empty`` return arrays that still have ``itemset`` (``a.itemset(i, v)`` is ``a[i] = v``).
"""
from __future__ import annotations

import importlib
import types

import numpy


class _ItemsetArray(numpy.ndarray):
    """An ndarray with the ``itemset`` method that numpy 2 removed."""

    def itemset(self, index, value):
        self[index] = value


def _numpy_view() -> types.ModuleType:
    """numpy, with ``object`` and ``zeros`` / ``empty`` returning :class:`_ItemsetArray`."""
    view = types.ModuleType("numpy_for_mathematics_dataset")
    view.__getattr__ = lambda name: getattr(numpy, name)  # everything else (PEP 562)
    view.object = object
    view.zeros = lambda *a, **k: numpy.zeros(*a, **k).view(_ItemsetArray)
    view.empty = lambda *a, **k: numpy.empty(*a, **k).view(_ItemsetArray)
    return view


def patch() -> None:
    """Apply both fixes (idempotent); afterwards ``mathematics_dataset.modules`` imports and runs."""
    dioph = importlib.import_module("sympy.solvers.diophantine")
    if not hasattr(dioph, "base_solution_linear"):
        dioph.base_solution_linear = importlib.import_module(
            "sympy.solvers.diophantine.diophantine").base_solution_linear
    polynomials = importlib.import_module("mathematics_dataset.sample.polynomials")
    if polynomials.np is numpy:
        polynomials.np = _numpy_view()
