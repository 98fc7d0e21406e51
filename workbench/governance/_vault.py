"""The credential store object: the database plus the master key that opens its secrets.

Private to :mod:`workbench.governance.credentials` (permission checks and audit live
there; this module only stores, encrypts and decrypts).

Each secret is encrypted as ``{"id": <credential id>, "secret": ...}``, so a token copied
onto another row does not decrypt as that row's secret. A *canary* token in the meta
table proves at open time that the configured master key is the store's: a wrong key is
a clear :class:`~._crypto.MasterKeyError` before anything is written with it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.governance._credstore import CredentialDB, CredRow, set_meta
from workbench.governance._crypto import MasterKeyError, MasterKeys, load_master
from workbench.home import home as workbench_home

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

CANARY = b"workbench-credentials-v1"
FILE_NAME = "credentials.sqlite"


def store_path(home: Path | None = None) -> Path:
    """``$WORKBENCH_HOME/credentials.sqlite``."""
    return (home or workbench_home()) / FILE_NAME


def now_iso() -> str:
    """UTC now, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Vault:
    """The credential database and its master keys (opened lazily, checked by canary)."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or workbench_home()
        self.db = CredentialDB(store_path(self.home))
        self._keys: MasterKeys | None = None
        self._fernet: MultiFernet | None = None

    def __repr__(self) -> str:
        return f"Vault({str(self.db.path)!r})"

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # ------------------------------------------------------------------ master key

    @property
    def keys(self) -> MasterKeys:
        """The master keys (an empty store may create ``master.key``)."""
        if self._keys is None:
            fresh = self.db.meta("canary") is None and not self.db.rows()
            self._keys = load_master(self.home, create=fresh)
        return self._keys

    def fernet(self) -> MultiFernet:
        """The MultiFernet over the master keys, checked against the store's canary."""
        if self._fernet is None:
            fernet = self.keys.fernet()
            canary = self.db.meta("canary")
            if canary is not None:
                self._check(fernet, canary)
            self._fernet = fernet
        return self._fernet

    def reload_keys(self) -> None:
        """Forget the loaded master keys (re-read them on next use, e.g. after a rekey)."""
        self._keys = None
        self._fernet = None

    def _check(self, fernet: MultiFernet, canary: str) -> None:
        from cryptography.fernet import InvalidToken

        try:
            ok = fernet.decrypt(canary.encode("ascii")) == CANARY
        except InvalidToken:
            ok = False
        if not ok:
            raise MasterKeyError(
                f"the master key from {self.keys.source} does not open the credential store "
                f"{self.db.path} (wrong key, or the store's key was removed before "
                "`workbench credentials rekey` re-encrypted it)"
            )

    def ensure_canary(self, conn: Any) -> None:
        """Write the canary on the store's first write (inside a write transaction)."""
        if self.db.meta("canary") is None:
            set_meta(conn, "canary", self.fernet().encrypt(CANARY).decode("ascii"))

    # ------------------------------------------------------------------ secrets

    def encrypt(self, cred_id: str, secret: str) -> bytes:
        """The token stored for ``secret`` of credential ``cred_id``."""
        payload = json.dumps({"id": cred_id, "secret": secret}).encode("utf-8")
        return self.fernet().encrypt(payload)

    def decrypt(self, row: CredRow) -> str:
        """The secret of ``row``; a key that cannot open it is a MasterKeyError."""
        from cryptography.fernet import InvalidToken

        try:
            data = json.loads(self.fernet().decrypt(bytes(row.token)))
        except (InvalidToken, ValueError):
            data = None
        if not isinstance(data, dict) or data.get("id") != row.id:
            raise MasterKeyError(
                f"credential {row.id} cannot be decrypted with the master key from "
                f"{self.keys.source} (wrong key, or the row was altered)"
            )
        return str(data["secret"])

    def reencrypt_all(self, conn: Any, fernet: MultiFernet) -> int:
        """Re-encrypt every token and the canary with ``fernet``'s first key (in a write
        transaction); returns the number of credentials re-encrypted."""
        rows = self.db.rows()
        for row in rows:
            token = fernet.rotate(bytes(row.token))
            conn.execute("UPDATE credentials SET token = ? WHERE id = ?", (token, row.id))
        canary = self.db.meta("canary")
        new_canary = fernet.rotate(canary.encode("ascii")) if canary else fernet.encrypt(CANARY)
        set_meta(conn, "canary", new_canary.decode("ascii"))
        return len(rows)
