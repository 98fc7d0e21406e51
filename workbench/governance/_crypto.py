"""The credential store's master key: where it comes from, and encryption with it.

Secrets are encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography``
package) under a *master key*, looked up in this order:

1. ``WORKBENCH_MASTER_KEY``: one Fernet key, or several separated by commas (the first
   encrypts, all decrypt: :class:`cryptography.fernet.MultiFernet`);
2. ``WORKBENCH_MASTER_KEY_FILE``: a file holding one key per line (first line encrypts);
3. ``$WORKBENCH_HOME/master.key``, created (mode 0600) on first use of an empty store.

The third is a convenience for a laptop: the key then sits on the same disk as the data it
protects. In production supply the key from a secret manager (an environment variable
injected at start, or a mounted secret file). Errors name the problem and the source,
never the key itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

ENV_KEY = "WORKBENCH_MASTER_KEY"
ENV_KEY_FILE = "WORKBENCH_MASTER_KEY_FILE"
HOME_KEY_NAME = "master.key"


class MasterKeyError(WorkbenchError):
    """The master key is missing, malformed, or not the one the store was encrypted with."""

    default_code = "master_key_error"


@dataclass(frozen=True)
class MasterKeys:
    """The configured master keys (first one encrypts) and where they came from."""

    keys: tuple[str, ...]
    source: str  # "WORKBENCH_MASTER_KEY", "WORKBENCH_MASTER_KEY_FILE (<path>)", "<path>"
    path: Path | None  # the key file, when the keys came from one

    def __repr__(self) -> str:  # never the keys
        return f"MasterKeys(source={self.source!r}, count={len(self.keys)})"

    def fernet(self) -> MultiFernet:
        """A MultiFernet over the keys; a malformed key is a :class:`MasterKeyError`."""
        from cryptography.fernet import Fernet, MultiFernet

        fernets = []
        for i, key in enumerate(self.keys, 1):
            try:
                fernets.append(Fernet(key.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise MasterKeyError(
                    f"master key #{i} from {self.source} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with "
                    "`workbench credentials new-master-key`)"
                ) from None
        return MultiFernet(fernets)


def generate_key() -> str:
    """A fresh random Fernet key (url-safe base64 text)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def _split(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.replace(",", "\n").splitlines() if k.strip())


def home_key_path(home: Path) -> Path:
    """The default key file in the state directory."""
    return home / HOME_KEY_NAME


def load_master(home: Path, *, create: bool) -> MasterKeys:
    """The master keys from the environment, a key file, or ``home/master.key``.

    ``create``: make ``home/master.key`` when no key is configured and the file is missing
    (callers pass True only for a store that holds no secret yet, so a lost key file is
    never silently replaced by a new key).
    """
    env = os.environ.get(ENV_KEY, "")
    if env.strip():
        return MasterKeys(_split(env), ENV_KEY, None)
    env_file = os.environ.get(ENV_KEY_FILE, "").strip()
    if env_file:
        path = Path(env_file).expanduser()
        return MasterKeys(_read(path, f"{ENV_KEY_FILE} ({path})"), f"{ENV_KEY_FILE} ({path})", path)
    path = home_key_path(home)
    if not path.exists():
        if not create:
            raise MasterKeyError(
                f"no master key: set {ENV_KEY} or {ENV_KEY_FILE}, or restore {path} "
                "(the credential store holds secrets encrypted with a key that is missing)"
            )
        _create_key_file(path)
    return MasterKeys(_read(path, str(path)), str(path), path)


def _create_key_file(path: Path) -> None:
    """Create ``path`` with a fresh key unless another process just did (first one wins:
    two processes adding their first credential at once must agree on one key)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    write_key_file(tmp, (generate_key(),))
    try:
        os.link(tmp, path)  # fails if the file exists: never replaces a key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path, source: str) -> tuple[str, ...]:
    try:
        keys = _split(path.read_text())
    except OSError as exc:
        raise MasterKeyError(f"cannot read the master key file {source}: {exc.strerror}") from None
    if not keys:
        raise MasterKeyError(f"the master key file {source} is empty")
    return keys


def write_key_file(path: Path, keys: tuple[str, ...]) -> None:
    """Write ``keys`` (one a line) to ``path`` atomically, mode 0600 from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(keys) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
