"""A CRM customer model that stores only tokens.

Card numbers and IBANs are tokenized before a customer is saved; support
screens show the vault's masked values; only a job with the permission
and a reason sees a full value; erasing a customer erases their values
in the vault too (right to erasure).

    TOKENVAULT_TARGET=vault:7443 TOKENVAULT_CA=ca.crt \\
    TOKENVAULT_CERT=crm.crt TOKENVAULT_KEY=crm.key python3 examples/crm.py
    # or against `tokenvaultd --dev`: TOKENVAULT_INSECURE=1
"""
import os
import sqlite3
from dataclasses import dataclass

import tokenvault


def connect() -> tokenvault.Client:
    target = os.environ.get("TOKENVAULT_TARGET", "127.0.0.1:7443")
    if os.environ.get("TOKENVAULT_INSECURE") == "1":
        return tokenvault.Client(target, insecure=True)
    return tokenvault.Client(target, ca=os.environ["TOKENVAULT_CA"], cert=os.environ["TOKENVAULT_CERT"],
                             key=os.environ["TOKENVAULT_KEY"])


@dataclass
class Customer:
    """One row of the CRM's table: tokens only, never a card number."""
    id: str
    name: str
    pan_token: str
    iban_token: str


class CustomerStore:
    """The CRM's own database (here SQLite in memory) plus the vault."""

    def __init__(self, vault: tokenvault.Client):
        self.vault = vault
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE TABLE customer (id TEXT PRIMARY KEY, name TEXT, pan_token TEXT, iban_token TEXT)")

    def create(self, cid: str, name: str, pan: str, iban: str) -> Customer:
        """Tokenizes the sensitive fields and stores the customer. Raises
        tokenvault.ItemError (e.g. name FORMAT_LUHN) for an invalid field:
        show it on the sign-up form."""
        pan_token, = self.vault.tokenize("pan", [pan])
        iban_token, = self.vault.tokenize("iban", [iban])
        self.db.execute("INSERT INTO customer VALUES (?, ?, ?, ?)", (cid, name, pan_token, iban_token))
        return Customer(cid, name, pan_token, iban_token)

    def get(self, cid: str) -> Customer:
        row = self.db.execute("SELECT id, name, pan_token, iban_token FROM customer WHERE id = ?",
                              (cid,)).fetchone()
        return Customer(*row)

    def support_screen(self, cid: str) -> dict:
        """What a support agent sees: masked values."""
        c = self.get(cid)
        card, = self.vault.detokenize("pan", [c.pan_token], reveal="masked")
        iban, = self.vault.detokenize("iban", [c.iban_token], reveal="masked")
        return {"name": c.name, "card": card, "iban": iban}

    def reveal_card(self, cid: str, reason: str) -> str:
        """The full card number, for a job allowed to see it; |reason| is audited."""
        pan, = self.vault.detokenize("pan", [self.get(cid).pan_token], reveal="full", reason=reason)
        return pan

    def erase(self, cid: str, pan: str) -> int:
        """Right to erasure: every token of the value goes, then the row."""
        erased = self.vault.erase("pan", pan)
        self.db.execute("DELETE FROM customer WHERE id = ?", (cid,))
        return erased


def main():
    store = CustomerStore(connect())
    ada = store.create("C1000", "Ada Lovelace", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00")
    print("stored row:", ada)
    try:
        store.create("C1001", "Bad Card", "4111 1111 1111 1112", "DE89 3704 0044 0532 0130 00")
    except tokenvault.ItemError as e:
        print("sign-up refused:", e.name)
    print("support screen:", store.support_screen("C1000"))
    print("chargeback job sees:", store.reveal_card("C1000", "chargeback CB-4711"))
    print("erased tokens:", store.erase("C1000", "4111 1111 1111 1111"))


if __name__ == "__main__":
    main()
