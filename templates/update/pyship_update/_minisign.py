"""Minisign signature verification in pure Python (stdlib only).

What `pyship_update` needs to check a release's `manifest.json.minisig`:
Ed25519 verification (RFC 8032, section 5.1.7, with the cofactorless
equation and canonical encodings required), minisign's public key and
signature formats, the prehashed (`ED`, BLAKE2b-512) and legacy (`Ed`)
signature algorithms, and the global signature over the trusted comment.

Speed is not a goal: Python integers do the field arithmetic, which takes a
few milliseconds per signature, and the updater checks a handful per update.
Verification only uses public data, so timing is not a concern either.
"""

import base64
import binascii
import hashlib

__all__ = ["PublicKey", "Signature", "MinisignError", "verify_ed25519", "parse_public_key", "parse_signature"]


class MinisignError(ValueError):
    """A key or a signature that cannot be read, or that does not verify."""


# ------------------------------------------------------------------ Ed25519

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


# Points in extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z.
_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)
_ZERO = (0, 1, 1, 0)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s, p):
    q = _ZERO
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % _P == 0 and (p[1] * q[2] - q[1] * p[2]) % _P == 0


def _decompress(data):
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def verify_ed25519(public, message, signature):
    """Whether `signature` (64 bytes) is `public`'s (32 bytes) Ed25519
    signature of `message` (bytes)."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


# ------------------------------------------------------------------ minisign


def _b64(text, size, what):
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MinisignError("%s is not base64" % what) from None
    if len(raw) != size:
        raise MinisignError("%s has %d bytes, not %d" % (what, len(raw), size))
    return raw


class PublicKey:
    """A minisign public key: its 8-byte key id and 32-byte Ed25519 key."""

    def __init__(self, text):
        raw = _b64(text, 42, "the public key")
        if raw[:2] != b"Ed":
            raise MinisignError("the public key is not an Ed25519 minisign key")
        self.text = text.strip()
        self.keynum = raw[2:10]
        self.key = raw[10:]

    @property
    def key_id(self):
        """The key id as minisign prints it (hex, most significant byte first)."""
        return self.keynum[::-1].hex().upper()


def parse_public_key(text):
    """A :class:`PublicKey` from its base64 line (`RW...`) or a `.pub` file's text."""
    if not isinstance(text, str):
        raise MinisignError("the public key is not text")
    lines = [l for l in text.strip().splitlines() if l.strip()]
    if lines and lines[0].startswith("untrusted comment:"):
        lines = lines[1:]
    if len(lines) != 1:
        raise MinisignError("the public key is not one base64 line")
    return PublicKey(lines[0])


class Signature:
    """A minisign signature file: algorithm, key id, signature, trusted
    comment and the global signature over signature + trusted comment."""

    def __init__(self, alg, keynum, sig, trusted_comment, global_sig):
        self.alg = alg
        self.keynum = keynum
        self.sig = sig
        self.trusted_comment = trusted_comment
        self.global_sig = global_sig

    @property
    def key_id(self):
        return self.keynum[::-1].hex().upper()

    def verify(self, key, data):
        """Raise :class:`MinisignError` unless this is `key`'s signature of
        `data` (bytes) with an authentic trusted comment."""
        if key.keynum != self.keynum:
            raise MinisignError("signed by key %s, not by key %s" % (self.key_id, key.key_id))
        message = hashlib.blake2b(data, digest_size=64).digest() if self.alg == b"ED" else data
        if not verify_ed25519(key.key, message, self.sig):
            raise MinisignError("the signature by key %s does not match the data" % key.key_id)
        comment = self.trusted_comment.encode("utf-8")
        if not verify_ed25519(key.key, self.sig + comment, self.global_sig):
            raise MinisignError("the trusted comment signed by key %s was altered" % key.key_id)


def parse_signature(data):
    """A :class:`Signature` from the bytes of a `.minisig` file."""
    try:
        text = data.decode("utf-8")
    except (UnicodeDecodeError, AttributeError):
        raise MinisignError("the signature file is not UTF-8 text") from None
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if len(lines) != 4 or not lines[0].startswith("untrusted comment:"):
        raise MinisignError("the signature file does not have minisign's four lines")
    raw = _b64(lines[1], 74, "the signature")
    if raw[:2] not in (b"Ed", b"ED"):
        raise MinisignError("the signature's algorithm is not Ed25519")
    prefix = "trusted comment: "
    if not lines[2].startswith(prefix):
        raise MinisignError("the signature file has no trusted comment")
    global_sig = _b64(lines[3], 64, "the global signature")
    return Signature(raw[:2], raw[2:10], raw[10:], lines[2][len(prefix):], global_sig)
