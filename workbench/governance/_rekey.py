"""Master-key rotation for the credential store (``workbench credentials rekey``).

Private to :mod:`workbench.governance.credentials`.
"""

from __future__ import annotations

from workbench.governance._crypto import MasterKeyError, generate_key, write_key_file
from workbench.governance._vault import Vault


def rekey_vault(vault: Vault, *, new_key: bool) -> tuple[int, str]:
    """Re-encrypt every token under the first master key; returns (count, key source).

    ``new_key``: put a fresh key at the head of the key file first (old keys kept so a
    crash midway leaves a file that still opens every token), re-encrypt in one
    transaction, then rewrite the file with the new key only.
    """
    vault.fernet()  # the current keys must open the store before anything changes
    keys = vault.keys
    if new_key:
        if keys.path is None:
            raise MasterKeyError(
                f"the master key comes from {keys.source}, which cannot be rewritten from "
                "here: generate a key (`workbench credentials new-master-key`), set "
                f'{keys.source}="NEW,OLD", run `workbench credentials rekey`, then drop OLD'
            )
        fresh = generate_key()
        write_key_file(keys.path, (fresh, *keys.keys))
        vault.reload_keys()
    fernet = vault.keys.fernet()
    with vault.db.write() as conn:
        count = vault.reencrypt_all(conn, fernet)
    if new_key and keys.path is not None:
        write_key_file(keys.path, (vault.keys.keys[0],))
        vault.reload_keys()
    return count, keys.source
