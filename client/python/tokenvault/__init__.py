"""Thin Python client for the tokenvault tokenisation vault."""
from tokenvault.client import SERVER_ITEMS_MAX, Client
from tokenvault.errors import ItemError, VaultError
from tokenvault.results import (AuditEntry, AuditVerification, DataKey, DataKeyRotation, Identity, Proposal,
                                Result, RotationStatus, TokenInfo)

__all__ = ["Client", "SERVER_ITEMS_MAX", "ItemError", "VaultError", "Result", "Identity", "TokenInfo", "DataKey",
           "Proposal", "DataKeyRotation", "RotationStatus", "AuditVerification", "AuditEntry"]
