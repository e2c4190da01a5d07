"""One process per institution: its key, its store, its inbox and outbox, following the chain."""
