"""Hostile input, one folder: oversized batches, re-entry through token hooks, EIP-712 replay,
front-running of the multi-party steps (malformed files: tests/offchain/test_malformed_files.py).

Batch bounds on the two chains: ganache mines every at-bound batch (under the EIP-7825 cap as gas
limit) and every refused one, and checks their effects; anvil runs with `--steps-tracing` for
coverage and keeps every opcode's stack and memory of every mined transaction, which the at-bound
batches (up to 14M gas) grew past 9 GB, so there they are executed with eth_call and measured with
eth_estimateGas (the same gas, both chains run shanghai), never mined.
"""
