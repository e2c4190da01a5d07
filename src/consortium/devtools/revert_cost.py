"""What a per-test revert costs under brownie 1.22 (`fn_isolation`), cut to what it must do.

Profiled on the access matrix (a module of ~430 tests over the whole deployed suite): a test's
teardown took 0.7 s, of which 0.42 s was the full `gc.collect()` brownie runs on every revert
(`state._notify_registry`, only to drop dead weak references before notifying them: on a heap
holding every compiled project it walks millions of objects) and 0.18 s was one `eth_getCode` per
deployed contract (`ContractContainer._revert` asks even for contracts deployed at or below the
block reverted to, which a revert cannot undeploy). `apply()`:

- notifies the registry without the full collection (Python's own collector still runs; an object
  that died inside a reference cycle is at worst notified once more, a no-op for brownie's
  registered objects);
- asks the chain only about contracts whose deployment block is unknown (loaded with `.at()`), and
  drops those deployed above the height without asking.

Applied by tests/conftest.py; brownie 1.22.2 is pinned, and
tests/integration/test_isolation_revert.py checks that a revert still forgets exactly the contracts
it undeploys.
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    """Idempotent."""
    from brownie.network import main, state
    from brownie.network.contract import ContractContainer
    from brownie.network.web3 import web3

    if getattr(state._notify_registry, "_cheap", False):
        return

    def _notify_registry(height: Any = None) -> None:
        if height is None:
            height = web3.eth.block_number
        for ref in state._revert_refs.copy():
            obj = ref()
            if obj is None:
                state._revert_refs.remove(ref)
            elif height:
                obj._revert(height)
            else:
                obj._reset()

    def _revert(self: Any, height: int) -> None:
        reverted = []
        for contract in self._contracts:
            block = contract.tx.block_number if contract.tx is not None else None
            if block is not None:
                if block > height:
                    reverted.append(contract)
            elif len(web3.eth.get_code(contract.address).hex().removeprefix("0x")) <= 2:
                reverted.append(contract)
        for contract in reverted:
            self.remove(contract)
            contract._reverted = True

    _notify_registry._cheap = True
    state._notify_registry = _notify_registry
    main._notify_registry = _notify_registry
    ContractContainer._revert = _revert
