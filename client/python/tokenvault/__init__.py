"""Thin Python client for the tokenvault tokenisation vault."""
from tokenvault.client import Client, Identity, Result
from tokenvault.errors import ItemError, VaultError

__all__ = ["Client", "Identity", "Result", "ItemError", "VaultError"]
