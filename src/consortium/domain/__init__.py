"""Pure Python shared with the contracts: no chain, no I/O. The tests use it as the oracle."""
