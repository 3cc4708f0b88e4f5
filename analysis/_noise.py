"""Noise and privacy cost, from OpenDP only: no sampler or accountant is written here.

A released table is a vector of integer counts or clamped sums, one per public key. One
installation changes it by at most ``d_in`` in L2 norm (contribution bounding, done in SQL before
this: at most ``cells`` cells of at most ``bound`` each, so ``d_in = ceil(bound * sqrt(cells))``).
OpenDP's Gaussian mechanism on integers (the discrete Gaussian of Canonne, Kamath and Steinke:
integer noise, so no floating-point attack) adds the noise; its privacy map gives the cost in
zero-concentrated DP (ρ), and OpenDP's own conversion states it as (ε, δ).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Final

import opendp.prelude as dp

dp.enable_features("contrib")  # OpenDP gates its measurements behind this flag

DELTA: Final = 1e-7  # the δ at which a ρ is also stated as ε (docs/privacy.md)
Z95: Final = 1.959963984540054  # the normal 97.5 % quantile: ±Z95·sd holds 95 % of a Gaussian


def l2_bound(bound: int, cells: int) -> int:
    """The L2 norm of ``cells`` cells of ``bound`` each, rounded up to an integer (exact for square ``cells``)."""
    square = bound * bound * cells
    return math.isqrt(square - 1) + 1


def _mechanism(size: int, scale: float) -> Any:
    # 64-bit integers: a week's clamped seconds of use over a large fleet passes 2^31.
    space = dp.vector_domain(dp.atom_domain(T="i64"), size=size), dp.l2_distance(T="i64")
    return dp.m.make_gaussian(*space, scale=scale)


@functools.lru_cache(maxsize=1024)
def calibrate(d_in: int, rho: float) -> float:
    """A noise scale whose ρ at sensitivity ``d_in`` is at most ``rho``, as OpenDP's privacy map judges it.

    The Gaussian mechanism's textbook scale (d_in / sqrt(2ρ), a hair larger) is tried first and
    kept only if OpenDP's map accepts it; otherwise OpenDP's binary search finds one. Either way
    the cost that counts is the one OpenDP's map states (see ``release``).
    """
    candidate = d_in / math.sqrt(2.0 * rho) * (1 + 1e-9)
    if float(_mechanism(1, candidate).map(d_in)) <= rho:
        return candidate
    return float(dp.binary_search_param(lambda scale: _mechanism(1, scale), d_in=d_in, d_out=rho))


def cost(d_in: int, scale: float, size: int = 1) -> float:
    """ρ of the Gaussian mechanism of ``scale`` for an installation that moves the vector by ``d_in``."""
    return float(_mechanism(size, scale).map(d_in))


def release(values: Sequence[int], d_in: int, rho: float) -> tuple[list[int], float, float]:
    """Noisy ``values`` within ``rho``: (noisy values, noise standard deviation, ρ spent), all from OpenDP."""
    scale = calibrate(d_in, rho)
    mechanism = _mechanism(len(values), scale)
    spent = float(mechanism.map(d_in))
    if spent > rho * (1 + 1e-9):
        raise AssertionError(f"calibration gave ρ={spent} over {rho}")
    return [int(v) for v in mechanism([int(v) for v in values])], scale, spent


@functools.lru_cache(maxsize=1024)
def epsilon(rho: float, delta: float = DELTA) -> float:
    """A zCDP cost ρ stated as (ε, δ)-DP, by OpenDP's zCDP-to-approximate-DP conversion."""
    if rho <= 0:
        return 0.0
    # A Gaussian mechanism of sensitivity 1 whose ρ is exactly ``rho``, converted; only its map is used.
    scale = 1.0 / math.sqrt(2.0 * rho)
    space = dp.atom_domain(T=float, nan=False), dp.absolute_distance(T=float)
    gaussian = dp.m.make_gaussian(*space, scale=scale)
    converted = dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), delta)
    return float(converted.map(1.0)[0])  # type: ignore[no-untyped-call]


def half_width(sd: float) -> int:
    """Half-width of a 95 % interval of integer noise of standard deviation ``sd`` (rounded up)."""
    return math.ceil(Z95 * sd)
