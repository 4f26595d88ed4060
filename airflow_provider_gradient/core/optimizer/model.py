"""Per-project runtime model: a parametric Ernest-style fit plus a Gaussian-process correction.

Runtime of a shape with ``C`` worker cores, ``M`` GB worker memory, ``w`` workers and input-size ratio ``s``::

    T = (θ0 + θ1·s/C + θ2·s/M + θ3·w) · (g/g0)^γ     (θ ≥ 0; least squares in relative error, ridge prior)

(serial part, parallel work, memory pressure/spill, per-node coordination; ``g`` is GB per core, so an
instance family speeds the whole job up or down by one factor, with γ chosen from a grid). The residual
``log T_obs − log T_param`` is modelled by a scikit-learn Gaussian process over (log cores, log GB-per-core,
log node size): a Matérn 5/2 over all three plus a Matérn 5/2 over GB-per-core alone, so that an instance
family's measured speed-up carries over to its other worker counts (families act multiplicatively on real
jobs). Its amplitudes and length scales are fitted by marginal likelihood over a small grid of conservative
values (few runs cannot support a free optimisation); the GP gives the uncertainty used for
``P(runtime ≤ SLA)``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Prior std of the GP correction (log runtime): how wrong the parametric part may be far from data.
GP_AMPLITUDE = 0.3
#: GP length scales for (log cores, log GB per core, log vCPUs per node).
GP_LENGTH_SCALES = np.array([0.9, 0.7, 0.9])
#: Prior std and length scale (log GB per core) of the family component (a per-family factor on runtime).
GP_FAMILY_AMPLITUDE = 0.25
GP_FAMILY_LENGTH_SCALE = 0.7
#: Hyper-parameter grid searched by marginal likelihood: multipliers of (amplitude, length scales, family amplitude).
_HYPER_GRID: tuple[tuple[float, float, float], ...] = tuple(
    (a, ls, b) for a in (0.5, 1.0, 1.6) for ls in (0.7, 1.0, 1.6) for b in (0.4, 1.0)
)
#: Exponents γ tried for the family factor (GB per core)^γ, and the scale of their ridge prior.
FAMILY_EXPONENTS: tuple[float, ...] = tuple(round(-1.0 + 0.1 * i, 2) for i in range(16))
FAMILY_EXPONENT_SCALE = 0.5
#: Smallest model std (log runtime, noise excluded) of a shape that was never run.
UNTRIED_SD = 0.1
#: Extra std of log runtime per unit of log distance outside the measured range of total cores.
EXTRAPOLATION_SD = 0.3
#: A shape whose parametric residual exceeds this many robust spreads (and OUTLIER_MIN_LOG in log runtime) is
#: an outlier: weight OUTLIER_WEIGHT in the parametric fit, its squared residual added to its GP noise.
OUTLIER_SIGMAS = 3.0
OUTLIER_MIN_LOG = 0.3
OUTLIER_WEIGHT = 0.1
#: Fewest distinct shapes for which the hyper-parameters are fitted (fixed priors below).
MIN_SHAPES_TO_FIT = 5
#: Run-to-run noise (log runtime) assumed until repeated runs tell otherwise.
DEFAULT_NOISE = 0.07
#: Smallest assumed noise: repeats are mostly of one shape (the incumbent), and real grids are heteroscedastic
#: (C3O sort: 10×c4.2xlarge within 6 %, 6×r4.2xlarge 84-174 s), so tight repeats never make a single run of
#: another shape look exact.
MIN_NOISE = DEFAULT_NOISE


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


def _groups(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs grouped by equal (rounded) ``cols``: the distinct keys, each run's group, the runs per group."""
    uniq, inv, counts = np.unique(np.round(np.column_stack(cols), 6), axis=0, return_inverse=True,
                                  return_counts=True)
    return uniq, inv.ravel(), counts


def _deviation(values: np.ndarray, groups: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each value minus the mean of its group."""
    return np.asarray(values - (np.bincount(groups, weights=values) / counts)[groups])


def _group_median(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` per group (repeated runs of one shape: robust to a slow outlier run)."""
    out = np.zeros(n)
    for g in range(n):
        out[g] = float(np.median(values[groups == g]))
    return out


def _x(cores: np.ndarray, mpc: np.ndarray, vcpus: np.ndarray) -> np.ndarray:
    return np.column_stack([np.log(cores), np.log(mpc), np.log(vcpus)])


def _kernel() -> Any:
    """Matérn 5/2 over the three features plus a Matérn 5/2 over GB per core alone (scikit-learn kernels)."""
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern

    far = 1e4  # a length scale that makes the family component constant along cores and node size
    local = ConstantKernel(GP_AMPLITUDE**2, (1e-4, 4.0)) * Matern(
        GP_LENGTH_SCALES.copy(), [(0.05, 50.0)] * 3, nu=2.5)
    family = ConstantKernel(GP_FAMILY_AMPLITUDE**2, (1e-4, 4.0)) * Matern(
        np.array([far, GP_FAMILY_LENGTH_SCALE, far]), "fixed", nu=2.5)
    return local + family


def _grid_optimizer(obj_func: Any, initial_theta: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """scikit-learn ``optimizer`` callable: the best of a small grid of hyper-parameters by marginal likelihood.

    ``theta`` is (log amplitude², 3 × log length scale, log family amplitude²).
    """
    best: tuple[np.ndarray, float] | None = None
    for a, ls, b in _HYPER_GRID:
        th = initial_theta.copy()
        th[0] += 2.0 * math.log(a)
        th[1:4] += math.log(ls)
        th[4] += 2.0 * math.log(b)
        th = np.clip(th, bounds[:, 0], bounds[:, 1])
        val = float(obj_func(th, eval_gradient=False))
        if best is None or val < best[1]:
            best = (th, val)
    assert best is not None
    return best


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
    :param virtual: (cores, mem, workers, size, runtime_s, mpc) predicted by replaying a run's tasks on other slot
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
        virtual: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None,
    ) -> None:
        if runtime_s.size == 0:
            raise ValueError("RuntimeModel needs at least one successful run")
        self.n_runs = int(runtime_s.size)
        t = np.maximum(runtime_s, 1e-3)
        # repeated shapes (same cores, mpc, vcpus): the noise estimate uses their mean log runtime, the fits their
        # median residual (robust to a slow outlier run)
        uniq, inv, counts = _groups(cores, mpc, vcpus)
        logt = np.log(t)
        # size-normalise repeated runs for the noise estimate (assume ~linear in size)
        lt_norm = logt - np.log(np.maximum(size, 1e-9))
        dev = _deviation(lt_norm, inv, counts)
        dof = int(self.n_runs - uniq.shape[0])
        # the raw run-to-run spread of repeated shapes at one input size (None without a repeat): the noise the
        # runs show, before the prior and the floor below
        u_sz, inv_sz, n_sz = _groups(cores, mpc, vcpus, size)
        dof_sz = int(self.n_runs - u_sz.shape[0])
        self.repeat_sd: float | None = (float(np.sqrt((_deviation(logt, inv_sz, n_sz) ** 2).sum() / dof_sz))
                                        if dof_sz >= 1 else None)
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
        self.mpc_ref = float(mpc[ref])
        prows = np.diag(np.sqrt(lam) / scale)
        prhs = np.sqrt(lam) * prior / scale
        self.gamma, self.theta = self._fit_param(a, t, mpc, np.ones_like(t), prows, prhs, lam, virtual)
        # GP on residuals of log runtime at unique shapes
        resid = logt - np.log(self._param(a, mpc))
        r_mean = _group_median(resid, inv, uniq.shape[0])
        # one robust re-fit: a shape whose residual is far beyond the others' spread (real grids hold 2-5x
        # outlier runs) is down-weighted in the parametric fit and counts as a very noisy point in the GP
        outlier = np.zeros(uniq.shape[0], dtype=bool)
        if uniq.shape[0] >= 4:
            spread = max(self.noise, 1.4826 * float(np.median(np.abs(r_mean - np.median(r_mean)))))
            outlier = np.abs(r_mean) > max(OUTLIER_SIGMAS * spread, OUTLIER_MIN_LOG)
            if outlier.any() and not outlier.all():
                w = np.where(outlier[inv], OUTLIER_WEIGHT, 1.0)
                self.gamma, self.theta = self._fit_param(a, t, mpc, w, prows, prhs, lam, virtual)
                resid = logt - np.log(self._param(a, mpc))
                r_mean = _group_median(resid, inv, uniq.shape[0])
            else:
                outlier[:] = False
        # smooth data (small parametric residuals across shapes) lowers the assumed noise; the residuals also
        # hold model misfit, so this only ever tightens towards what the data support
        n_u = uniq.shape[0]
        if n_u >= 6:
            fit_dof = n_u - 4
            pooled = np.sqrt(((dev**2).sum() + (r_mean[~outlier] ** 2).sum() + 4 * DEFAULT_NOISE**2)
                             / (max(dof, 0) + fit_dof - int(outlier.sum()) + 4))
            self.noise = float(np.clip(min(self.noise, pooled), MIN_NOISE, 0.3))
        from sklearn.gaussian_process import GaussianProcessRegressor

        self._gp = GaussianProcessRegressor(
            _kernel(), alpha=self.noise**2 / counts + np.where(outlier, r_mean**2, 0.0) + 1e-9,
            optimizer=_grid_optimizer if n_u >= MIN_SHAPES_TO_FIT else None, normalize_y=False, copy_X_train=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._xu = _x(uniq[:, 0], uniq[:, 1], uniq[:, 2])
            self._gp.fit(self._xu, r_mean)
        self.max_observed_cores = float(cores.max())
        self.min_observed_cores = float(cores.min())
        self.mpc_range = (float(mpc.min()), float(mpc.max()))

    def _param(self, a: np.ndarray, mpc: np.ndarray) -> np.ndarray:
        return np.asarray(np.maximum(a @ self.theta, 1e-3) * (mpc / self.mpc_ref) ** self.gamma)

    def _fit_param(self, a: np.ndarray, t: np.ndarray, mpc: np.ndarray, w: np.ndarray, prows: np.ndarray,
                   prhs: np.ndarray, lam: float,
                   virtual: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
                   ) -> tuple[float, np.ndarray]:
        """(γ, θ) of the parametric part: relative least squares with weights ``w``, γ from a grid."""
        best: tuple[float, float, np.ndarray] | None = None
        families = np.unique(np.round(mpc, 6)).size > 1
        for gamma in (FAMILY_EXPONENTS if families else (0.0,)):
            f = (mpc / self.mpc_ref) ** gamma
            rows = a * (w * f / t)[:, None]
            rhs = w.copy()
            if virtual is not None and virtual[4].size:
                vc, vm, vw, vs, vt, vg = virtual
                vt = np.maximum(vt, 1e-3)
                vf = (vg / self.mpc_ref) ** gamma
                rows = np.vstack([rows, 0.5 * _design(vc, vm, vw, vs) * (vf / vt)[:, None]])
                rhs = np.concatenate([rhs, np.full(vt.shape, 0.5)])
            big_a, big_b = np.vstack([rows, prows]), np.concatenate([rhs, prhs])
            th = nonneg_lstsq(big_a, big_b)
            r = big_a @ th - big_b
            err = float(r @ r) + lam * (gamma / FAMILY_EXPONENT_SCALE) ** 2
            if best is None or err < best[0] - 1e-12:
                best = (err, gamma, th)
        assert best is not None
        return best[1], best[2]

    def param_runtime(self, cores: np.ndarray, mem: np.ndarray, workers: np.ndarray, size: float,
                      mpc: np.ndarray | None = None) -> np.ndarray:
        """Parametric runtime only (``mpc``: GB per core, for the family factor; None: the reference family)."""
        s = np.full_like(cores, size, dtype=np.float64)
        t = np.maximum(_design(cores, mem, workers, s) @ self.theta, 1e-3)
        if mpc is None:
            return t
        # the family factor is not extrapolated beyond the measured families (families differ in more than memory:
        # a compute-optimised family may be faster, not slower, than memory per core suggests)
        g = np.clip(np.asarray(mpc, dtype=float), *self.mpc_range)
        return t * (g / self.mpc_ref) ** self.gamma

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
        tp = self.param_runtime(cores, mem, workers, size, mpc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r_mu, r_sd = self._gp.predict(_x(cores, mpc, vcpus), return_std=True)
        mu = np.log(tp) + r_mu
        # a shape never run is never known better than UNTRIED_SD (the GP alone can be over-confident between runs)
        xs = _x(cores, mpc, vcpus)
        d = np.abs(xs[:, None, :] - self._xu[None, :, :]).sum(-1).min(axis=1)
        r_sd = np.where(d > 1e-9, np.maximum(np.asarray(r_sd), UNTRIED_SD), np.asarray(r_sd))
        # the parametric part is itself uncertain outside the measured range of cores: widen with the distance
        g = np.asarray(mpc, dtype=float)
        out = (np.maximum(np.log(np.asarray(cores, dtype=float) / self.max_observed_cores), 0.0)
               + np.maximum(np.log(self.min_observed_cores / np.asarray(cores, dtype=float)), 0.0)
               + np.maximum(np.log(g / self.mpc_range[1]), 0.0) + np.maximum(np.log(self.mpc_range[0] / g), 0.0))
        var = np.maximum(np.asarray(r_sd) ** 2, 0.0) + self.noise**2 + (EXTRAPOLATION_SD * out) ** 2
        return Prediction(mu=mu, sigma=np.sqrt(var), param_runtime_s=tp)

    def scaling_summary(self) -> tuple[float, float]:
        """(share of the parallel 1/cores term at the smallest observed size, serial seconds)."""
        th = self.theta
        c = self.min_observed_cores
        par = th[1] / c
        total = th[0] + par + th[3] + 1e-9
        return float(par / total), float(th[0])
