"""The prior SCMs reproduce their systems' structure."""

from __future__ import annotations

import numpy as np
import pytest

from couple_lite.errors import NotPositiveDefiniteError
from couple_lite.values.prior import prior_correlation, prior_scm
from couple_lite.values.systems import BUILTIN_SYSTEMS, ValueSystem, load_value_system

# largest |implied - target| correlation after pruning edges < 0.05 (README, "Where the prior SCM
# comes from"): measured 0.023, 0.032 and 0.072; moral foundations' few strong group edges lose most
PRUNING_ERROR = {"schwartz10": 0.025, "schwartz19": 0.035, "moral_foundations": 0.075}


@pytest.mark.parametrize("name", BUILTIN_SYSTEMS)
def test_prior_reproduces_prior_correlations(name):
    vs = load_value_system(name)
    scm = prior_scm(vs)
    C = scm.cov
    sd = np.sqrt(np.diag(C))
    assert np.abs(C / np.outer(sd, sd) - prior_correlation(vs)).max() < PRUNING_ERROR[name]
    unpruned = prior_scm(vs, prune=0.0).cov  # every earlier value a parent: the correlations exactly
    sd = np.sqrt(np.diag(unpruned))
    np.testing.assert_allclose(unpruned / np.outer(sd, sd), prior_correlation(vs), atol=1e-9)
    np.testing.assert_allclose(scm.mean, [v.mean for v in vs.values], atol=1e-9)


def test_schwartz10_correlation_falls_with_circular_distance():
    vs = load_value_system("schwartz10")
    R = prior_correlation(vs)
    by_distance = [np.mean([R[i, (i + d) % 10] for i in range(10)]) for d in range(1, 6)]
    assert all(a > b for a, b in zip(by_distance, by_distance[1:]))
    # fitted to person-centred PVQ-40 correlations .29 .02 -.17 -.40 -.46
    np.testing.assert_allclose(by_distance, [0.29, 0.02, -0.17, -0.40, -0.46], atol=0.05)


def test_not_positive_definite_prior_is_reported():
    vs = ValueSystem(
        name="bad",
        values=[{"name": n, "definition": n, "angle": a} for n, a in [("a", 0), ("b", 90), ("c", 180), ("d", 270)]],
        circumplex=(-0.9, 0.1),
    )
    with pytest.raises(NotPositiveDefiniteError, match="weaken the correlations"):
        prior_scm(vs)


def test_a_large_prior_is_fitted_with_one_blas_thread_and_the_setting_is_restored(monkeypatch):
    """From BLAS_THREADS_FROM values on, the fit runs with one BLAS thread (spinning BLAS threads starve
    each other on a busy machine), and the caller's setting is back afterwards."""
    from threadpoolctl import threadpool_info

    import couple_lite.values.prior as prior
    from couple_lite.values import ValueDef, ValueSystem

    def blas_threads():
        return {i["internal_api"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    seen, real = [], prior._prior_scm
    monkeypatch.setattr(prior, "_prior_scm", lambda *a: (seen.append(blas_threads()), real(*a))[1])
    big = ValueSystem(
        name="big",
        values=[ValueDef(name=f"v{i}", definition="x", group=f"g{i % 4}") for i in range(prior.BLAS_THREADS_FROM)],
    )
    before = blas_threads()
    assert prior.prior_scm(big).dim == prior.BLAS_THREADS_FROM
    assert seen and seen[0] and all(n == 1 for n in seen[0].values())
    assert blas_threads() == before
