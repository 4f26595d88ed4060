"""A small Gaussian-process regressor for the ``bo`` baseline: ARD Matérn 5/2 × amplitude + white noise,
hyper-parameters by maximum marginal likelihood (L-BFGS-B with restarts), normalised targets.

Equivalent to scikit-learn's ``GaussianProcessRegressor(ConstantKernel * Matern(nu=2.5) + WhiteKernel,
normalize_y=True)`` for this use, without its import cost.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

# log-parameter bounds: amplitude², length scales, noise²
_B_AMP = (np.log(1e-3), np.log(1e2))
_B_LS = (np.log(1e-2), np.log(1e1))
_B_NOISE = (np.log(1e-6), np.log(1e-1))


def _matern52(a: np.ndarray, b: np.ndarray, ls: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.maximum((((a[:, None, :] - b[None, :, :]) / ls) ** 2).sum(-1), 0.0))
    s5 = np.sqrt(5.0) * d
    return (1.0 + s5 + 5.0 / 3.0 * d * d) * np.exp(-s5)


class MaternGP:
    """Fit with :meth:`fit`, predict mean and std with :meth:`predict`.

    :param restarts: extra random starts of the hyper-parameter search.
    :param seed: seed of the restarts.
    """

    def __init__(self, restarts: int = 2, seed: int = 0) -> None:
        self.restarts, self.seed = restarts, seed

    def _nll(self, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
        amp, noise, ls = np.exp(theta[0]), np.exp(theta[1]), np.exp(theta[2:])
        k = amp * _matern52(x, x, ls) + (noise + 1e-10) * np.eye(len(x))
        try:
            c = cho_factor(k, lower=True)
        except np.linalg.LinAlgError:
            return 1e10
        alpha = cho_solve(c, y)
        return float(0.5 * y @ alpha + np.log(np.diag(c[0])).sum() + 0.5 * len(x) * np.log(2 * np.pi))

    def fit(self, x: np.ndarray, y: np.ndarray) -> MaternGP:
        """Fit to inputs ``x`` (n×d) and targets ``y`` (n)."""
        self.x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        self.mu, self.sd = float(y.mean()), float(y.std()) or 1.0
        yn = (y - self.mu) / self.sd
        d = self.x.shape[1]
        bounds = [_B_AMP, _B_NOISE] + [_B_LS] * d
        rng = np.random.default_rng(self.seed)
        starts = [np.array([0.0, np.log(1e-3)] + [np.log(0.5)] * d)]
        starts += [np.array([rng.uniform(*b) for b in bounds]) for _ in range(self.restarts)]
        best: tuple[float, np.ndarray] | None = None
        for s in starts:
            r = minimize(self._nll, s, args=(self.x, yn), method="L-BFGS-B", bounds=bounds)
            if best is None or r.fun < best[0]:
                best = (float(r.fun), r.x)
        assert best is not None
        th = best[1]
        self.amp, self.noise, self.ls = np.exp(th[0]), np.exp(th[1]), np.exp(th[2:])
        k = self.amp * _matern52(self.x, self.x, self.ls) + (self.noise + 1e-10) * np.eye(len(self.x))
        self._c = cho_factor(k, lower=True)
        self._alpha = cho_solve(self._c, yn)
        return self

    def predict(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and std (of the latent function) at ``xs``."""
        ks = self.amp * _matern52(np.asarray(xs, dtype=float), self.x, self.ls)
        mean = ks @ self._alpha
        v = cho_solve(self._c, ks.T)
        var = np.maximum(self.amp - (ks * v.T).sum(1), 1e-12)
        return mean * self.sd + self.mu, np.sqrt(var) * self.sd
