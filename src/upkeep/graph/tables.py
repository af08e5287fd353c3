"""The four tables a query can name, and the columns every row of them has."""

from __future__ import annotations

#: Table names as queries write them (matched without case).
TABLES = (
    "resources",
    "maintenanceresources",
    "patchassessmentresources",
    "patchinstallationresources",
)

#: Every row's columns, in Resource Graph's order.
COLUMNS = (
    "id",
    "name",
    "type",
    "tenantId",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "managedBy",
    "sku",
    "plan",
    "properties",
    "tags",
    "identity",
    "zones",
    "extendedLocation",
)
