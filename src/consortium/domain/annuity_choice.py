"""The evidence of an employee's plan choice (source 000: the platform records the employee's
choice): the employee's own signature over the choice, or the platform's attestation with the
reference of the employee's consent record. Its hash goes on chain with `choosePlan` and is carried
by every instruction the choice produces (AnnuityLedger `Instruction.choiceHash`), so a statement
shows which choice produced which instruction.

evidence hash = keccak256(abi.encode(bytes32 account, bytes32 planCode, uint32 version, bool reset,
uint64 chosenAt, bytes32 consentRef, bytes32 keccak256(signature))), with an empty signature for an
attested choice and a zero consent reference for a signed one.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

ZERO32 = b"\0" * 32


class ChoiceNotEvidenced(ValueError):
    """A plan choice with neither the employee's signature nor a consent reference (or both)."""


@dataclass(frozen=True)
class PlanChoice:
    """One plan choice as the platform records it (account: the salted account id on chain)."""

    account: bytes
    plan_code: bytes
    version: int
    reset: bool
    chosen_at: int
    consent_ref: bytes = ZERO32  # platform-attested: the employee's consent record reference
    signature: bytes = b""  # signed: the employee's signature of `message()`

    def __post_init__(self) -> None:
        if (self.consent_ref == ZERO32) == (not self.signature):
            raise ChoiceNotEvidenced(
                f"plan choice of account 0x{self.account.hex()}: give the employee's signature "
                "or the reference of the employee's consent record (exactly one)"
            )

    def message(self) -> bytes:
        """What the employee signs (EIP-191): the choice without its evidence."""
        return keccak(
            encode(
                ["bytes32", "bytes32", "uint32", "bool", "uint64"],
                [self.account, self.plan_code, self.version, self.reset, self.chosen_at],
            )
        )

    def evidence_hash(self) -> bytes:
        """The `choiceHash` of choosePlan."""
        return keccak(
            encode(
                ["bytes32", "bytes32", "uint32", "bool", "uint64", "bytes32", "bytes32"],
                [
                    self.account,
                    self.plan_code,
                    self.version,
                    self.reset,
                    self.chosen_at,
                    self.consent_ref,
                    keccak(self.signature),
                ],
            )
        )

    def signer(self) -> str | None:
        """The employee key that signed the choice (None for an attested one)."""
        if not self.signature:
            return None
        return Account.recover_message(encode_defunct(self.message()), signature=self.signature)

    @classmethod
    def signed(
        cls,
        account: bytes,
        plan_code: bytes,
        version: int,
        reset: bool,
        chosen_at: int,
        employee_key: bytes,
    ) -> PlanChoice:
        """A choice signed by the employee's own key."""
        unsigned = cls(account, plan_code, version, reset, chosen_at, b"\1" * 32)
        sig = Account.sign_message(encode_defunct(unsigned.message()), employee_key).signature
        return cls(account, plan_code, version, reset, chosen_at, ZERO32, bytes(sig))

    def to_json(self) -> dict:
        return {
            "account": "0x" + self.account.hex(),
            "plan_code": "0x" + self.plan_code.hex(),
            "version": self.version,
            "reset": self.reset,
            "chosen_at": self.chosen_at,
            "consent_ref": "0x" + self.consent_ref.hex(),
            "signature": "0x" + self.signature.hex(),
            "evidence_hash": "0x" + self.evidence_hash().hex(),
        }
