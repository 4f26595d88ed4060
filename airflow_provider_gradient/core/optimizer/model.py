"""Per-project runtime model: a parametric Ernest-style fit plus a Gaussian-process correction.

Runtime of a shape with ``C`` worker cores, ``M`` GB worker memory, ``w`` workers and input-size ratio ``s``::

    T = θ0 + θ1·s/C + θ2·s/M + θ3·w          (θ ≥ 0; least squares in relative error, ridge prior)

(serial part, parallel work, memory pressure/spill, per-node coordination). The residual
``log T_obs − log T_param`` is modelled by a GP (Matérn 5/2 over log cores, log GB-per-core, log node size)
with fixed, conservative hyper-parameters, which gives the uncertainty used for ``P(runtime ≤ SLA)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Prior std of the GP correction (log runtime): how wrong the parametric part may be far from data.
GP_AMPLITUDE = 0.3
#: GP length scales for (log cores, log GB per core, log vCPUs per node).
GP_LENGTH_SCALES = np.array([0.9, 0.7, 0.9])
#: Run-to-run noise (log runtime) assumed until repeated runs tell otherwise.
DEFAULT_NOISE = 0.07
MIN_NOISE = 0.02


def norm_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (vectorised; no SciPy import on the hot path)."""
    z = np.asarray(z, dtype=float)
    return np.asarray(0.5 * (1.0 + _erf(z / math.sqrt(2.0))))


_erf = np.vectorize(math.erf, otypes=[float])


def nonneg_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact non-negative least squares for a few unknowns: best over the active sets of free variables."""
    n = a.shape[1]
    best: tuple[float, np.ndarray] = (float(b @ b), np.zeros(n))
    for mask in range(1, 1 << n):
        cols = [j for j in range(n) if mask >> j & 1]
        x, *_ = np.linalg.lstsq(a[:, cols], b, rcond=None)
        if (x < 0).any():
            continue
        full = np.zeros(n)
        full[cols] = x
        r = a @ full - b
        err = float(r @ r)
        if err < best[0] - 1e-15:
            best = (err, full)
    return best[1]


def _design(cores: np.ndarray, mem: np.ndarray, workers: np.ndarray, size: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones_like(cores), size / cores, size / mem, workers])


def _x(cores: np.ndarray, mpc: np.ndarray, vcpus: np.ndarray) -> np.ndarray:
    return np.column_stack([np.log(cores), np.log(mpc), np.log(vcpus)]) / GP_LENGTH_SCALES


def _matern52(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0))
    s5 = np.sqrt(5.0) * d
    return (1.0 + s5 + 5.0 / 3.0 * d * d) * np.exp(-s5)


@dataclass(frozen=True, slots=True)
class Prediction:
    """Log-normal runtime prediction per candidate.

    :param mu: mean of log runtime.
    :param sigma: std of log runtime (model + run noise).
    :param param_runtime_s: the parametric part alone.
    """

    mu: np.ndarray
    sigma: np.ndarray
    param_runtime_s: np.ndarray

    @property
    def median_s(self) -> np.ndarray:
        """Median runtime."""
        return np.exp(self.mu)

    @property
    def mean_s(self) -> np.ndarray:
        """Expected runtime."""
        return np.exp(self.mu + 0.5 * self.sigma**2)


class RuntimeModel:
    """Fit on successful runs; predict log-normal runtimes for candidates.

    :param cores: total worker cores per run.
    :param mem: total worker memory (GB) per run.
    :param mpc: GB per core of the node type per run.
    :param vcpus: vCPUs per node per run.
    :param workers: workers per run.
    :param size: input-size ratio per run (1.0 when unknown).
    :param runtime_s: observed runtimes.
    :param virtual: (cores, mem, workers, size, runtime_s) predicted by replaying a run's tasks on other slot
        counts (event log); they shape the parametric fit at half weight and never enter the GP.
    """

    def __init__(
        self,
        cores: np.ndarray,
        mem: np.ndarray,
        mpc: np.ndarray,
        vcpus: np.ndarray,
        workers: np.ndarray,
        size: np.ndarray,
        runtime_s: np.ndarray,
        virtual: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if runtime_s.size == 0:
            raise ValueError("RuntimeModel needs at least one successful run")
        self.n_runs = int(runtime_s.size)
        t = np.maximum(runtime_s, 1e-3)
        # aggregate repeated shapes (same cores, mpc, vcpus) -> mean log runtime and count
        key = np.round(np.column_stack([cores, mpc, vcpus]), 6)
        uniq, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
        inv = inv.ravel()
        logt = np.log(t)
        # size-normalise repeated runs for the noise estimate (assume ~linear in size)
        lt_norm = logt - np.log(np.maximum(size, 1e-9))
        sums = np.bincount(inv, weights=lt_norm)
        means = sums / counts
        dev = lt_norm - means[inv]
        dof = int(self.n_runs - uniq.shape[0])
        # repeated runs update the assumed noise (shrunk towards the default: 4 pseudo-observations)
        self.noise = float(np.clip(np.sqrt(((dev**2).sum() + 4 * DEFAULT_NOISE**2) / (max(dof, 0) + 4)),
                                   MIN_NOISE, 0.3))
        # parametric fit (relative least squares, ridge prior from the reference run)
        a = _design(cores, mem, workers, size)
        ref = int(np.argmin(np.abs(np.log(cores) - np.median(np.log(cores)))))
        t0, c0, m0, w0, s0 = t[ref], cores[ref], mem[ref], workers[ref], size[ref]
        prior = np.array([0.2 * t0, 0.7 * t0 * c0 / s0, 0.0, 0.0])
        scale = np.array([1.0 * t0, 1.0 * t0 * c0 / s0, 0.1 * t0 * m0 / s0, 0.05 * t0 / max(w0, 1.0)])
        lam = 0.02
        rows = a / t[:, None]
        rhs = np.ones_like(t)
        if virtual is not None and virtual[4].size:
            vc, vm, vw, vs, vt = virtual
            vt = np.maximum(vt, 1e-3)
            rows = np.vstack([rows, 0.5 * _design(vc, vm, vw, vs) / vt[:, None]])
            rhs = np.concatenate([rhs, np.full(vt.shape, 0.5)])
        prows = np.diag(np.sqrt(lam) / scale)
        prhs = np.sqrt(lam) * prior / scale
        self.theta = nonneg_lstsq(np.vstack([rows, prows]), np.concatenate([rhs, prhs]))
        # GP on residuals of log runtime at unique shapes
        tp = np.maximum(a @ self.theta, 1e-3)
        resid = logt - np.log(tp)
        r_mean = np.bincount(inv, weights=resid) / counts
        # smooth data (small parametric residuals across shapes) lowers the assumed noise; the residuals also
        # hold model misfit, so this only ever tightens towards what the data support
        n_u = uniq.shape[0]
        if n_u >= 6:
            fit_dof = n_u - 4
            pooled = np.sqrt(((dev**2).sum() + (r_mean**2).sum() + 4 * DEFAULT_NOISE**2) / (max(dof, 0) + fit_dof + 4))
            self.noise = float(np.clip(min(self.noise, pooled), MIN_NOISE, 0.3))
        self._xu = _x(uniq[:, 0], uniq[:, 1], uniq[:, 2])
        k = GP_AMPLITUDE**2 * _matern52(self._xu, self._xu)
        k[np.diag_indices_from(k)] += self.noise**2 / counts + 1e-9
        self._chol = np.linalg.cholesky(k)
        self._alpha = np.linalg.solve(self._chol.T, np.linalg.solve(self._chol, r_mean))
        self.max_observed_cores = float(cores.max())
        self.min_observed_cores = float(cores.min())

    def param_runtime(self, cores: np.ndarray, mem: np.ndarray, workers: np.ndarray, size: float) -> np.ndarray:
        """Parametric runtime only."""
        s = np.full_like(cores, size, dtype=np.float64)
        return np.maximum(_design(cores, mem, workers, s) @ self.theta, 1e-3)

    def predict(
        self,
        cores: np.ndarray,
        mem: np.ndarray,
        mpc: np.ndarray,
        vcpus: np.ndarray,
        workers: np.ndarray,
        size: float = 1.0,
    ) -> Prediction:
        """Predict runtimes (log-normal) of candidates at input-size ratio ``size``."""
        tp = self.param_runtime(cores, mem, workers, size)
        xs = _x(cores, mpc, vcpus)
        ks = GP_AMPLITUDE**2 * _matern52(xs, self._xu)
        mu = np.log(tp) + ks @ self._alpha
        v = np.linalg.solve(self._chol, ks.T)
        var = np.maximum(GP_AMPLITUDE**2 - (v * v).sum(0), 0.0) + self.noise**2
        return Prediction(mu=mu, sigma=np.sqrt(var), param_runtime_s=tp)

    def scaling_summary(self) -> tuple[float, float]:
        """(share of the parallel 1/cores term at the smallest observed size, serial seconds)."""
        th = self.theta
        c = self.min_observed_cores
        par = th[1] / c
        total = th[0] + par + th[3] + 1e-9
        return float(par / total), float(th[0])
