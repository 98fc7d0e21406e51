"""The key store a governed function works on: the caller's, or one opened for the call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from workbench.errors import InvalidRequestError

if TYPE_CHECKING:
    from workbench.keys import KeyStore


@contextmanager
def opened(store: KeyStore | None) -> Iterator[KeyStore]:
    """``store`` itself, or ``KeyStore()`` (``$WORKBENCH_HOME/keys.sqlite``) closed after."""
    if store is not None:
        yield store
        return
    from workbench.keys import KeyStore

    with KeyStore() as own:
        yield own


def conflict(message: str, code: str) -> InvalidRequestError:
    """A 409: the request clashes with the current state (exists already, not empty)."""
    err = InvalidRequestError(message, code=code)
    err.status = 409
    return err
