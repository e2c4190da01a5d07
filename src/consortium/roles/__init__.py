"""One module per business line, one class per institution role. Role objects are built from an
account and the deployed contracts; they hold no chain state of their own beyond their store."""
