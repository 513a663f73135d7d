import numpy as np

from conveyor_monitor import multivariate


def correlated(n: int, rho: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cov = [[1, rho, rho], [rho, 1, rho], [rho, rho, 1]]
    return rng.multivariate_normal([0, 0, 0], cov, n)


def test_a_broken_correlation_is_caught_where_marginals_did_not_move():
    model = multivariate.fit(correlated(1000, 0.8, seed=1), window=200)
    assert model is not None and model.components.shape[0] < 3
    same = model.error(correlated(200, 0.8, seed=2))
    broken = correlated(200, 0.0, seed=3)  # each column still N(0, 1)
    assert not model.drifted(same)
    assert model.drifted(model.error(broken))
    assert abs(broken.mean(axis=0)).max() < 0.25 and abs(broken.std(axis=0) - 1).max() < 0.15


def test_nothing_to_learn_gives_no_model():
    rng = np.random.default_rng(4)
    assert multivariate.fit(rng.normal(size=(500, 1)), 100) is None
    assert multivariate.fit(rng.normal(size=(500, 2)), 100) is None  # independent: both components kept
