"""Hypothesis budgets per chain (consortium.devtools.examples): whole on anvil, a third on ganache
(at least two, never more than the test asked), COVERAGE_EXAMPLES under coverage."""

from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.devtools.coverage_build import COVERAGE_EXAMPLES
from consortium.devtools.examples import cap_items, is_ganache, on_ganache


def test_on_ganache__a_third_at_least_two_never_more():
    assert [on_ganache(n) for n in (1, 2, 3, 5, 6, 12, 15, 25, 30)] == [1, 2, 2, 2, 2, 4, 5, 8, 10]


def test_is_ganache__brownie_s_option_or_a_name():
    assert is_ganache(["ganache-local"]) and is_ganache("ganache-local")
    assert not is_ganache(["development"]) and not is_ganache(None) and not is_ganache(False)


def test_cap_items__given_tests_capped__others_untouched():
    @settings(max_examples=12)
    @given(st.integers())
    def prop(n):
        pass

    def plain():
        pass

    # a parametrized test: several items of one function, capped once from its own budget
    items = [SimpleNamespace(obj=prop)] * 3 + [SimpleNamespace(obj=plain), SimpleNamespace()]
    cap_items(items, on_ganache)
    assert prop._hypothesis_internal_use_settings.max_examples == 4
    cap_items(items, lambda n: min(n, COVERAGE_EXAMPLES))
    assert prop._hypothesis_internal_use_settings.max_examples == COVERAGE_EXAMPLES
    assert not hasattr(plain, "_hypothesis_internal_use_settings")
