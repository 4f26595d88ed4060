"""Search strategies compared by the benchmarks: ``gradient`` (our optimiser), ``bo`` and ``random``.

All strategies see only what a real deployment would: the rows they chose to run. ``bo`` is a
CherryPick-style Bayesian optimiser (GP with a Matérn 5/2 kernel, constrained expected improvement, three
quasi-random starts after the baseline); ``random`` is uniform random search over untried rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from airflow_provider_gradient.bench.grid import Catalog, GridRow
from airflow_provider_gradient.core.optimizer import (
    ClusterShape,
    Observation,
    OptimizerSettings,
    SearchSpace,
    recommend,
)
from airflow_provider_gradient.core.optimizer.engine import sla_outlook

STRATEGIES: tuple[str, ...] = ("gradient", "bo", "random")


class Strategy(Protocol):
    """Chooses the next row to run and the final recommendation."""

    def next(self, done: Sequence[GridRow]) -> tuple[str, int, str]:
        """(node_type, workers, phase) of the next run, given the runs done so far (baseline first)."""
        ...

    def final(self, done: Sequence[GridRow]) -> tuple[str, int]:
        """The final recommendation."""
        ...


def best_observed(done: Sequence[GridRow], catalog: Catalog, sla_s: float) -> tuple[str, int]:
    """Cheapest observed row within the SLA; else the fastest successful one; else the baseline."""
    ok = [r for r in done if r.succeeded and r.runtime_s <= sla_s]
    if ok:
        r = min(ok, key=lambda r: catalog.cost_usd(r.node_type, r.workers, r.runtime_s))
        return r.node_type, r.workers
    succ = [r for r in done if r.succeeded]
    if succ:
        r = min(succ, key=lambda r: r.runtime_s)
        return r.node_type, r.workers
    return done[0].node_type, done[0].workers


def halton(n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points of the ``d``-dimensional Halton sequence, randomly shifted (Cranley–Patterson) by ``seed``."""
    primes = (2, 3, 5, 7, 11, 13)[:d]
    out = np.zeros((n, d))
    for j, b in enumerate(primes):
        for i in range(n):
            f, r, k = 1.0, 0.0, i + 1
            while k > 0:
                f /= b
                r += f * (k % b)
                k //= b
            out[i, j] = r
    shift = np.random.default_rng(seed).random(d)
    return (out + shift) % 1.0


class GradientStrategy:
    """Our optimiser through its public :func:`recommend`.

    :param space: the grid's search space.
    :param sla_s: SLA in seconds.
    :param baseline: (node_type, workers) of run 1.
    :param settings: optimiser settings (SLA filled in from ``sla_s``).
    """

    def __init__(self, space: SearchSpace, sla_s: float, baseline: tuple[str, int],
                 settings: OptimizerSettings | None = None) -> None:
        self.space = space
        self.baseline = ClusterShape(node_type_id=baseline[0], num_workers=baseline[1])
        base = settings or OptimizerSettings()
        self.settings = dataclasses.replace(base, sla_minutes=sla_s / 60.0)
        self.calibration: list[tuple[tuple[str, int], float]] = []

    def _history(self, done: Sequence[GridRow]) -> list[Observation]:
        return [
            Observation(shape=ClusterShape(node_type_id=r.node_type, num_workers=r.workers), runtime_s=r.runtime_s,
                        succeeded=r.succeeded, failure_kind=r.failure_kind, input_bytes=r.input_size,
                        started_ms=i)
            for i, r in enumerate(done)
        ]

    def next(self, done: Sequence[GridRow]) -> tuple[str, int, str]:
        """Next run per :func:`recommend` (at the end of learning, also records the model's P(meets SLA) of every
        untried shape in :attr:`calibration`)."""
        if len(done) == self.settings.learning_runs:
            tried = {r.key for r in done}
            out = sla_outlook(self.space, self._history(done), self.settings, self.baseline)
            self.calibration = [(k, p) for k, p in out.items() if k not in tried]
        rec = recommend(self.space, self._history(done), self.settings, self.baseline)
        return rec.shape.node_type_id, int(rec.shape.effective_workers), rec.phase

    def final(self, done: Sequence[GridRow]) -> tuple[str, int]:
        """Final recommendation: :func:`recommend` without exploration."""
        s = dataclasses.replace(self.settings, explore=False)
        rec = recommend(self.space, self._history(done), s, self.baseline)
        return rec.shape.node_type_id, int(rec.shape.effective_workers)


class RandomStrategy:
    """Uniform random search over untried rows.

    :param rows: the grid.
    :param catalog: prices.
    :param sla_s: SLA in seconds.
    :param seed: RNG seed.
    """

    def __init__(self, rows: Sequence[GridRow], catalog: Catalog, sla_s: float, seed: int) -> None:
        self.keys, self.catalog, self.sla_s = list(dict.fromkeys(r.key for r in rows)), catalog, sla_s
        self.rng = np.random.default_rng(seed)

    def next(self, done: Sequence[GridRow]) -> tuple[str, int, str]:
        """A random untried configuration."""
        tried = {r.key for r in done}
        left = [k for k in self.keys if k not in tried] or self.keys
        k = left[int(self.rng.integers(len(left)))]
        return k[0], k[1], "random"

    def final(self, done: Sequence[GridRow]) -> tuple[str, int]:
        """Best observed row."""
        return best_observed(done, self.catalog, self.sla_s)


class BOStrategy:
    """CherryPick-style constrained Bayesian optimisation.

    Features per row: log total cores, log GB per core, log vCPUs per node (scaled to [0, 1]). A GP
    (Matérn 5/2 + white noise, hyper-parameters fitted by marginal likelihood) models log runtime; the
    acquisition is expected improvement of log cost times the probability of meeting the SLA. Failed runs
    enter as runtime 3× the SLA. Runs 2–4 are (shifted Halton) quasi-random points snapped to the nearest untried row.

    :param rows: the grid.
    :param catalog: prices.
    :param sla_s: SLA in seconds.
    :param seed: RNG seed.
    """

    N_STARTS = 3

    def __init__(self, rows: Sequence[GridRow], catalog: Catalog, sla_s: float, seed: int) -> None:
        self.keys, self.catalog, self.sla_s, self.seed = list(dict.fromkeys(r.key for r in rows)), catalog, sla_s, seed
        self.pos = {k: i for i, k in enumerate(self.keys)}
        feats = []
        for node, w in self.keys:
            n = catalog.nodes[node]
            feats.append([math.log(max(w, 1) * n.vcpus), math.log(n.memory_gb / n.vcpus), math.log(n.vcpus)])
        x = np.array(feats)
        lo, hi = x.min(0), x.max(0)
        self.x = (x - lo) / np.where(hi > lo, hi - lo, 1.0)
        self.log_rate = np.log(np.array([max(w, 1) * catalog.rate_usd(node) / 3600.0 for node, w in self.keys]))
        self.starts = halton(self.N_STARTS, 3, seed)

    def _idx(self, r: GridRow) -> int:
        return self.pos[r.key]

    def next(self, done: Sequence[GridRow]) -> tuple[str, int, str]:
        """Quasi-random start, then constrained EI."""
        tried = {self._idx(r) for r in done}
        untried = [i for i in range(len(self.keys)) if i not in tried]
        if not untried:
            untried = list(range(len(self.keys)))
        k = len(done) - 1
        if k < self.N_STARTS:
            d = ((self.x[untried] - self.starts[k]) ** 2).sum(1)
            i = untried[int(np.argmin(d))]
            return self.keys[i][0], self.keys[i][1], "learning"
        i = self._ei_pick(done, untried)
        return self.keys[i][0], self.keys[i][1], "optimizing"

    def _ei_pick(self, done: Sequence[GridRow], untried: list[int]) -> int:
        from scipy.special import ndtr

        from airflow_provider_gradient.bench.gp import MaternGP

        idx = [self._idx(r) for r in done]
        y = np.array([math.log(r.runtime_s if r.succeeded else 3.0 * self.sla_s) for r in done])
        gp = MaternGP(restarts=2, seed=self.seed).fit(self.x[idx], y)
        mu, sd = gp.predict(self.x[untried])
        sd = np.maximum(sd, 1e-6)
        log_cost_mu = mu + self.log_rate[untried]
        feas = [self.log_rate[i] + yy for i, yy, r in zip(idx, y, done, strict=True)
                if r.succeeded and r.runtime_s <= self.sla_s]
        p_ok = ndtr((math.log(self.sla_s) - mu) / sd)
        if feas:
            best = min(feas)
            z = (best - log_cost_mu) / sd
            ei = (best - log_cost_mu) * ndtr(z) + sd * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            acq = ei * p_ok
        else:
            acq = p_ok
        return untried[int(np.argmax(acq))]

    def final(self, done: Sequence[GridRow]) -> tuple[str, int]:
        """Best observed row."""
        return best_observed(done, self.catalog, self.sla_s)
