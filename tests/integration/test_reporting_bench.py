"""bench_reporting runs on a fresh registry and returns named gas figures."""

from consortium import chain as _chain
from consortium.bench.reporting import bench_reporting


def test_bench_reporting__fresh_registry__gas_figures(accounts, capsys):
    figures = bench_reporting(_chain.project(), accounts, leaves=64)
    assert set(figures) >= {"reporting.setRules", "reporting.anchor.first_version"}
    assert all(isinstance(v, int) and 0 < v < 3_000_000 for v in figures.values())
    with capsys.disabled():
        print("\n" + "\n".join(f"  {k}: {v}" for k, v in figures.items()))
