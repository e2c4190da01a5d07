pytest_plugins = ["tests.fixtures.annuity"]
