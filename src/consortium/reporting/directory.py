"""Who is who in a report: members' jurisdiction, regulator and roles, and pseudonyms.

Inside a report, institutions the regulator does not supervise appear only as pseudonyms (`ext:` +
a hash of regulator and address), so nothing of another regulator's institutions is disclosed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from consortium.config import DEFAULT_BUSINESS_TIME_ZONE
from consortium.domain.encoding import hexstr
from consortium.domain.roles import ROLES, role_name
from consortium.reporting.errors import ReportingError

REGULATOR_ROLE = "0x" + ROLES["REGULATOR"].hex()


def as_code(value: Any) -> str:
    """The text of a right-zero-padded bytes32 code (a jurisdiction: 'CN')."""
    raw = bytes.fromhex(hexstr(value)[2:])
    return raw.rstrip(b"\0").decode("utf-8", "replace")


@dataclass(frozen=True)
class PartyInfo:
    address: str
    member: bool
    jurisdiction: str
    regulator: str  # supervising regulator; a regulator supervises itself; "" if none
    roles: frozenset[str]


class RegistryDirectory:
    """Members' jurisdiction, regulator and roles, asked from the ConsortiumRegistry (cached).

    `registry` is the deployed registry (a brownie Contract, or anything with the same calls).
    Membership is read at the current block: a member's regulator does not change while it is a
    member.
    """

    def __init__(self, registry: Any):
        self.registry = registry
        self._cache: dict[str, PartyInfo] = {}

    def info(self, address: str) -> PartyInfo:
        key = address.lower()
        if key not in self._cache:
            m = self.registry.getMember(to_checksum_address(address))
            status, jurisdiction, regulator = int(m[0]), as_code(m[2]), str(m[3])
            roles = frozenset(
                role_name(hexstr(r)) for r in self.registry.rolesOf(to_checksum_address(address))
            )
            if int(regulator, 16) == 0:
                regulator = address if "REGULATOR" in roles else ""
            self._cache[key] = PartyInfo(
                to_checksum_address(address),
                status != 0,
                jurisdiction,
                to_checksum_address(regulator) if regulator else "",
                roles,
            )
        return self._cache[key]

    def regulators(self) -> list[PartyInfo]:
        """Active members holding REGULATOR, in application order."""
        out = []
        for a in self.registry.members():
            if self.registry.hasRole(a, REGULATOR_ROLE):
                out.append(self.info(str(a)))
        return out

    def require_regulator(self, address: str) -> PartyInfo:
        known = self.regulators()
        for r in known:
            if r.address.lower() == str(address).lower():
                return r
        names = ", ".join(f"{r.address} ({r.jurisdiction})" for r in known) or "none"
        raise ReportingError(
            f"unknown regulator {address}: not an active member holding REGULATOR in "
            f"the registry. Known regulators: {names}"
        )


def pseudonym(regulator: str, address: str) -> str:
    """Stable, per-regulator pseudonym of an institution the regulator does not supervise."""
    return "ext:" + keccak(text=f"{regulator.lower()}|{address.lower()}").hex()[:16]


def key_of(keys: Mapping[str, bytes] | None, address: str) -> bytes | None:
    """An address's key in a mapping keyed by address in any case (a plain dict of checksummed
    addresses, or the agents' store-backed directory, which keys by lower case); None if absent."""
    if keys is None:  # not `not keys`: an empty store-backed directory still learns keys
        return None
    return keys.get(address.lower()) or keys.get(to_checksum_address(address))


@dataclass(frozen=True)
class Dossier:
    """What the regulator holds beyond the chain to make a report readable: the membership dossier
    (institution id and name by address, from the consortium file), each currency's decimals and
    the consortium's business time zone.

    The chain holds only salted hashes of names, so names come from here; a report names only the
    institutions its regulator supervises (the rest stay pseudonyms, whatever the dossier holds).
    The zone defaults to the consortium file's default (Asia/Shanghai), the zone a suite is deployed
    in by default: a report checks it against its ReportAnchor's offset (days.check_zone)."""

    names: Mapping[str, tuple[str, str]]  # lower-case address -> (institution id, name)
    decimals: Mapping[str, int]  # currency code -> digits of its minor unit
    time_zone: str = DEFAULT_BUSINESS_TIME_ZONE

    @classmethod
    def of(cls, consortium: Any, addresses: Mapping[str, str]) -> Dossier:
        """From a consortium.config.Consortium and each institution's address by id (institutions
        without an address are left out)."""
        names = {
            addresses[i.id].lower(): (i.id, i.name)
            for i in consortium.institutions
            if i.id in addresses
        }
        return cls(names, dict(consortium.decimals), consortium.business_time_zone)

    def ident(self, address: str) -> str | None:
        """The institution id of `address` ('reg-cn'), None when not in the dossier."""
        entry = self.names.get(address.lower())
        return entry[0] if entry else None
