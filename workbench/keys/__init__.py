"""API keys: a SQLite-backed store with a revocation-aware verification cache.

::

    from workbench.keys import KeyStore

    store = KeyStore()                       # $WORKBENCH_HOME/keys.sqlite
    record, key = store.create("team-a", "notebook")   # key shown once: wb-<id>-<secret>
    store.verify(key)                        # -> KeyRecord, or raises AuthenticationError
    store.revoke(record.key_id)
"""

from workbench.keys.store import KEY_PREFIX, KeyRecord, KeyStore, validate_workspace

__all__ = ["KEY_PREFIX", "KeyRecord", "KeyStore", "validate_workspace"]
