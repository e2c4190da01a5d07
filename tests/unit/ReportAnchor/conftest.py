pytest_plugins = ["tests.fixtures.reporting"]
