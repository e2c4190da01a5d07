"""Developer tooling: contract coverage (`make coverage`), not used by the consortium itself."""
