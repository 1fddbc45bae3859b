"""The same linear-Gaussian SCM answered by our closed form and by DoWhy's graphical causal
models (interventional and counterfactual sampling), for d = 10, 100, 1000 values.

Both models are fitted on the same samples of a known sparse random DAG with the true graph
(ours: per-node least squares; DoWhy: AdditiveNoiseModel with a linear regressor and a Gaussian
noise model), so they describe the same fitted SCM. Timed: one counterfactual for a fully observed
profile under do(v0 = 6) plus the interventional mean under the same do(); DoWhy draws
``--samples`` interventional samples. Our covariances are computed on first use; a second timing
("+cov") includes them. Ours: median of repeated queries; DoWhy: one run. Fitting is not timed. Needs the `bench` extra (dowhy).

    python bench/scm_vs_dowhy.py [--dims 10,100,1000] [--samples 10000] [--json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite.scm import Intervention, LinearGaussianSCM, abduct, counterfactual  # noqa: E402
from couple_lite.scm_fit import fit_scm  # noqa: E402


def random_sparse_scm(d: int, rng: np.random.Generator) -> LinearGaussianSCM:
    W = np.zeros((d, d))
    for j in range(1, d):
        for i in rng.choice(j, size=min(j, 2), replace=False):
            W[i, j] = rng.uniform(0.3, 0.7) * rng.choice([-1, 1])
    return LinearGaussianSCM(tuple(f"v{i}" for i in range(d)), W, rng.uniform(2, 5, d), np.diag(rng.uniform(0.2, 0.5, d)))


def run_one(d: int, n_samples: int, rng: np.random.Generator) -> dict:
    import networkx as nx
    import pandas as pd
    from dowhy import gcm
    from scipy import stats

    true = random_sparse_scm(d, rng)
    data = true.sample(max(5 * d, 2000), rng)
    edges = [(true.names[i], true.names[j]) for i, j in zip(*np.nonzero(true.weights))]
    ours_model = fit_scm(true.names, data=data, edges=edges)
    df = pd.DataFrame(data, columns=true.names)
    dw = gcm.InvertibleStructuralCausalModel(nx.DiGraph(edges))
    dw.graph.add_nodes_from(true.names)
    for n in true.names:
        if dw.graph.in_degree(n) == 0:
            dw.set_causal_mechanism(n, gcm.ScipyDistribution(stats.norm))
        else:
            dw.set_causal_mechanism(n, gcm.AdditiveNoiseModel(gcm.ml.create_linear_regressor(),
                                                              gcm.ScipyDistribution(stats.norm)))
    gcm.config.disable_progress_bars()
    gcm.fit(dw, df)

    observed = dict(zip(true.names, map(float, data[0])))
    target = {"v0": 6.0}

    def ours(with_cov: bool):
        cf = counterfactual(ours_model, abduct(ours_model, observed), Intervention(hard=target))
        do = counterfactual(ours_model, abduct(ours_model), Intervention(hard=target))
        if with_cov:  # the full distributions too (O(d³); computed on first use)
            cf.cov, do.cov
        return cf, do  # means: what DoWhy's answers are compared on

    def median_ms(with_cov: bool, repeats: int = 21) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ours(with_cov)
            times.append(time.perf_counter() - t0)
        return float(np.median(times) * 1e3)

    cf, do_mean = ours(False)
    ours_ms, ours_cov_ms = median_ms(False), median_ms(True, 5 if d >= 1000 else 21)

    t0 = time.perf_counter()
    dw_cf = gcm.counterfactual_samples(dw, {"v0": lambda x: 6.0}, observed_data=df.iloc[:1])
    dw_do = gcm.interventional_samples(dw, {"v0": lambda x: 6.0}, num_samples_to_draw=n_samples)
    dowhy_ms = (time.perf_counter() - t0) * 1e3

    cf_diff = np.abs(dw_cf[list(true.names)].to_numpy()[0] - cf.mean).max()
    sampled = dw_do[list(true.names)].to_numpy()
    mc_se = sampled.std(axis=0, ddof=1) / np.sqrt(n_samples)
    do_diff = np.abs(sampled.mean(axis=0) - do_mean.mean)
    return {"d": d, "ours_ms": ours_ms, "dowhy_ms": dowhy_ms, "speedup": dowhy_ms / ours_ms,
            "ours_with_cov_ms": ours_cov_ms, "speedup_with_cov": dowhy_ms / ours_cov_ms,
            "max_abs_diff": float(max(cf_diff, do_diff.max())), "counterfactual_max_abs_diff": float(cf_diff),
            "interventional_max_abs_diff": float(do_diff.max()),
            "interventional_within_4se": bool(np.all(do_diff <= 4 * mc_se + 1e-9)),
            "max_diff_in_se": float((do_diff / (mc_se + 1e-12)).max())}


@click.command()
@click.option("--dims", default="10,100,1000", show_default=True)
@click.option("--samples", default=10_000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(dims: str, samples: int, as_json: bool) -> None:
    try:
        import dowhy  # noqa: F401
    except ImportError:
        raise SystemExit("this benchmark needs DoWhy: pip install -e '.[bench]'") from None
    rng = np.random.default_rng(0)
    results = [run_one(int(d), samples, rng) for d in dims.split(",")]
    if as_json:
        click.echo(json.dumps({"results": results, "samples": samples}, indent=2))
        return
    click.echo(f"{'d':>5} {'ours ms':>9} {'DoWhy ms':>10} {'speedup':>9} {'+cov ms':>9} {'speedup':>9} "
               f"{'max |diff|':>11} {'do() diff / MC se':>18}")
    for r in results:
        click.echo(f"{r['d']:>5} {r['ours_ms']:>9.3f} {r['dowhy_ms']:>10.1f} {r['speedup']:>9.0f} "
                   f"{r['ours_with_cov_ms']:>9.2f} {r['speedup_with_cov']:>9.0f} "
                   f"{r['max_abs_diff']:>11.2e} {r['max_diff_in_se']:>18.2f}")
    click.echo("goal: speedup >= 1000, sampled answer within its Monte Carlo error of ours")


if __name__ == "__main__":
    main()
