"""Secrets at rest: AES-GCM with a key id (for rotation) and keyed hashes for lookups.

Card PINs, ID numbers and service passwords are stored as ``<key id>:<nonce+ciphertext, base64>``.
Rotating keys means adding a new key, making it active, and re-encrypting (`huafei keys rotate`);
old ciphertexts stay readable as long as their key is in the keyring. Duplicate detection and
lookups use an HMAC under a separate key, so no plain secret is ever compared or indexed.

Without configured keys a keyring falls back to development keys derived from a constant in this
file: anyone can compute them, so they are refused in production (``allow_development=False``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from huafei.core.errors import HuafeiError
from huafei.core.keyed_settings import decode_base64, parse_keyed_secrets

NONCE_BYTES = 12


class DevelopmentKeyRefused(ValueError):
    """A development key was about to be used where it is not allowed (production)."""


class SecretUnreadable(HuafeiError):
    code = "secret_unreadable"
    status = 500
    title = "A stored secret could not be decrypted"


def _derive(label: str, seed: str) -> bytes:
    return hashlib.sha256(f"huafei-dev:{label}:{seed}".encode()).digest()


@dataclass(frozen=True)
class Keyring:
    """Encryption keys by id, the active key id, and the lookup (HMAC) key."""

    keys: dict[str, bytes]
    active: str
    lookup_key: bytes
    #: which of the keys are development keys: ``"encryption"``, ``"lookup"`` (empty in production)
    development: tuple[str, ...] = ()

    @classmethod
    def from_settings(
        cls, spec: str, active: str, lookup: str, *, allow_development: bool = True
    ) -> Keyring:
        """``spec`` is ``id:base64key,id:base64key``; empty means development keys, which raise
        ``DevelopmentKeyRefused`` unless ``allow_development``. A malformed spec raises
        ``ValueError`` naming the key (never its value)."""
        keys = parse_keyed_secrets(spec, describe=lambda key_id: f"key {key_id!r}")
        for key_id, key in keys.items():
            if len(key) not in (16, 24, 32):
                raise ValueError(f"key {key_id!r} must be 16, 24 or 32 bytes")
        development: list[str] = []
        if not keys:
            keys = {"dev1": _derive("enc", "dev1")}
            active = active or "dev1"
            development.append("encryption")
        active = active or next(iter(keys))
        if active not in keys:
            raise ValueError(f"active key {active!r} is not in the keyring")
        if lookup:
            lookup_key = decode_base64(lookup, "the lookup key")
            if len(lookup_key) < 16:
                raise ValueError("the lookup key must be at least 16 bytes")
        else:
            lookup_key = _derive("lookup", "dev")
            development.append("lookup")
        if development and not allow_development:
            raise DevelopmentKeyRefused(
                "development " + " and ".join(development) + " key refused: configure real keys"
            )
        return cls(keys=keys, active=active, lookup_key=lookup_key, development=tuple(development))

    @classmethod
    def generate_key(cls) -> str:
        return base64.b64encode(os.urandom(32)).decode()

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt under the active key; ``context`` (e.g. ``card-pin``) is bound as AAD."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{self.active}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, stored: str, *, context: str) -> str:
        key_id, _, encoded = stored.partition(":")
        key = self.keys.get(key_id)
        if key is None:
            raise SecretUnreadable(f"key {key_id!r} is not in the keyring")
        raw = base64.b64decode(encoded)
        try:
            plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except Exception:
            raise SecretUnreadable("ciphertext or context does not match") from None
        return plain.decode()

    def key_id_of(self, stored: str) -> str:
        return stored.partition(":")[0]

    def needs_rotation(self, stored: str) -> bool:
        return self.key_id_of(stored) != self.active

    def rotate(self, stored: str, *, context: str) -> str:
        """Re-encrypt under the active key (a no-op when already there)."""
        if not self.needs_rotation(stored):
            return stored
        return self.encrypt(self.decrypt(stored, context=context), context=context)

    def lookup_hash(self, *parts: str) -> str:
        """A keyed hash of the parts, for duplicate detection and lookups."""
        message = "\x1f".join(parts).encode()
        return hmac.new(self.lookup_key, message, hashlib.sha256).hexdigest()


def mask(value: str, *, keep_start: int = 4, keep_end: int = 4, fill: str = "*") -> str:
    """``3101**********1234``: the ends kept, the middle hidden (short values fully hidden)."""
    if len(value) <= keep_start + keep_end:
        return fill * len(value)
    return value[:keep_start] + fill * (len(value) - keep_start - keep_end) + value[-keep_end:]
