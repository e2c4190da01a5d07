"""Consortium Ledger: the institutions off chain and the regulators\x27 reports."""
