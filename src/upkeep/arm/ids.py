"""ARM resource ids: parsing, validation and canonical casing.

Ids are case-insensitive on input. :class:`ResourceId` keeps the names a caller sent and
puts the fixed segments (``subscriptions``, ``resourceGroups``, ``providers``) and the
resource types Upkeep knows into their canonical case, so ``str(rid)`` is what responses
echo and ``rid.key`` is what the store looks things up by.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from upkeep.arm.errors import ArmError, invalid_parameter

#: Resource types Upkeep serves or refers to, keyed by their lowercase form.
KNOWN_TYPES: dict[str, str] = {
    name.lower(): name
    for name in (
        "Microsoft.Compute/virtualMachines",
        "Microsoft.Compute/virtualMachineScaleSets",
        "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
        "Microsoft.HybridCompute/machines",
        "Microsoft.Maintenance/maintenanceConfigurations",
        "Microsoft.Maintenance/configurationAssignments",
        "Microsoft.Maintenance/applyUpdates",
        "Microsoft.Resources/resourceGroups",
    )
}

#: The machine types a configuration assignment may target.
MACHINE_TYPES = ("Microsoft.Compute/virtualMachines", "Microsoft.HybridCompute/machines")

_NAME_FORBIDDEN = re.compile(r"[<>%&:\\?/#*\x00-\x1f]")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_GROUP_NAME = re.compile(r"^[-\w._()]{1,90}$")


def canonical_type(resource_type: str) -> str:
    """``microsoft.compute/VIRTUALMACHINES`` -> ``Microsoft.Compute/virtualMachines``."""
    return KNOWN_TYPES.get(resource_type.lower(), resource_type)


def normalize_subscription_id(value: str, field: str = "subscriptionId") -> str:
    """A subscription id is a GUID; it is stored and echoed in lowercase."""
    if _GUID.match(value):
        return value.lower()
    try:
        return str(uuid.UUID(value))  # the other spellings a GUID may have
    except ValueError:
        raise invalid_parameter(
            field, f"'{value}' is not a valid subscription id (a GUID)"
        ) from None


def check_resource_group_name(name: str) -> None:
    if not _GROUP_NAME.match(name) or name.endswith("."):
        raise ArmError(
            400,
            "InvalidResourceGroup",
            f"The resource group name '{name}' is invalid: it must be 1-90 letters, digits,"
            " '-', '_', '.', '(' or ')', and must not end with '.'.",
            target="resourceGroupName",
        )


def check_resource_name(name: str, field: str = "name") -> None:
    if not 1 <= len(name) <= 260 or _NAME_FORBIDDEN.search(name) or name.endswith((".", " ")):
        raise ArmError(
            400,
            "InvalidResourceName",
            f"The resource name '{name}' is invalid: it must be 1-260 characters, must not"
            " contain < > % & : \\ ? / # * or control characters, and must not end with '.'"
            " or a space.",
            target=field,
        )


@dataclass(frozen=True)
class ResourceId:
    """A parsed id: ``/subscriptions/S[/resourceGroups/G[/providers/NS/T1/N1[/T2/N2…]]]``."""

    subscription_id: str
    resource_group: str | None = None
    namespace: str | None = None
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, field: str) -> ResourceId:
        """Parse ``text`` or raise a 400 naming ``field``."""
        if not isinstance(text, str):
            raise invalid_parameter(field, "a resource id must be a string")
        parts = text.strip("/").split("/")
        if not text.startswith("/") or any(part == "" for part in parts):
            raise _bad_id(field, text)
        if len(parts) < 2 or parts[0].lower() != "subscriptions":
            raise _bad_id(field, text)
        subscription_id = normalize_subscription_id(parts[1], field)
        rest = parts[2:]
        if not rest:
            return cls(subscription_id)
        if len(rest) < 2 or rest[0].lower() != "resourcegroups":
            raise _bad_id(field, text)
        group = rest[1]
        rest = rest[2:]
        if not rest:
            return cls(subscription_id, group)
        if rest[0].lower() != "providers" or len(rest) < 4 or len(rest) % 2 != 0:
            raise _bad_id(field, text)
        namespace, pairs = rest[1], rest[2:]
        types = tuple(pairs[0::2])
        names = tuple(pairs[1::2])
        return cls(subscription_id, group, namespace, types, names).canonical()

    def canonical(self) -> ResourceId:
        """The same id with its namespace and types in canonical case."""
        if self.namespace is None:
            return self
        known = canonical_type("/".join((self.namespace, *self.types))).split("/")
        return ResourceId(
            self.subscription_id, self.resource_group, known[0], tuple(known[1:]), self.names
        )

    @property
    def type(self) -> str:
        """E.g. ``Microsoft.Compute/virtualMachines``; ``Microsoft.Resources/resourceGroups``."""
        if self.namespace is None:
            if self.resource_group is None:
                return "Microsoft.Resources/subscriptions"
            return "Microsoft.Resources/resourceGroups"
        return "/".join((self.namespace, *self.types))

    @property
    def name(self) -> str:
        if self.names:
            return self.names[-1]
        return self.resource_group or self.subscription_id

    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.subscription_id}"

    @property
    def group_id(self) -> str | None:
        if self.resource_group is None:
            return None
        return f"{self.subscription_scope}/resourceGroups/{self.resource_group}"

    @property
    def key(self) -> str:
        """The lowercase form the store uses to find this id."""
        return str(self).lower()

    def with_group_name(self, group: str) -> ResourceId:
        """The same id with the group's name as the store spells it."""
        return ResourceId(self.subscription_id, group, self.namespace, self.types, self.names)

    def __str__(self) -> str:
        text = self.subscription_scope
        if self.resource_group is not None:
            text += f"/resourceGroups/{self.resource_group}"
        if self.namespace is not None:
            text += f"/providers/{self.namespace}"
            for resource_type, name in zip(self.types, self.names, strict=True):
                text += f"/{resource_type}/{name}"
        return text


def location_key(name: str) -> str:
    """Locations compare without case or spaces: ``East US`` is ``eastus``."""
    return name.replace(" ", "").lower()


def scope_covers(scope: str, path: str) -> bool:
    """Whether ``scope`` is ``path`` or an ancestor of it (segment-wise, case-insensitive)."""
    outer = [part.lower() for part in scope.split("/") if part]
    inner = [part.lower() for part in path.split("/") if part]
    return inner[: len(outer)] == outer


def path_scope(path: str) -> str:
    """The scope a request path lies in: ``/``, ``/subscriptions/S`` or ``…/resourceGroups/G``."""
    parts = [part for part in path.split("/") if part]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return "/"
    if len(parts) < 4 or parts[2].lower() != "resourcegroups":
        return f"/subscriptions/{parts[1]}"
    return f"/subscriptions/{parts[1]}/resourceGroups/{parts[3]}"


def group_key(subscription_id: str, group: str) -> str:
    """The store key of a resource group."""
    return f"/subscriptions/{subscription_id}/resourcegroups/{group}".lower()


def _bad_id(field: str, text: str) -> ArmError:
    return ArmError(
        400,
        "LinkedInvalidPropertyId",
        f"{field}: '{text}' is not a valid resource id; expected"
        " /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
        "/providers/{namespace}/{type}/{name}",
        target=field,
    )
