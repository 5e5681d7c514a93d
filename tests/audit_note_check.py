#!/usr/bin/env python3
"""Independent check of a consent-broker log checkpoint (C2SP signed note).

Written from the specifications (c2sp.org/signed-note, tlog-checkpoint), not
from the C code, so that an encoding mistake there (key ID hash, signature
line framing, signed bytes) shows up as a disagreement:

    audit_note_check.py VKEY NOTE_FILE [--key PRIVATE_KEY_PEM]

VKEY is "name+hex(key ID)+base64(0x01 || Ed25519 public key)" or a file
holding it. The script recomputes the key ID as
SHA-256(name || "\\n" || 0x01 || public key)[:4], splits the note at its
last blank line, finds the signature line "\\u2014 name base64(key ID ||
signature)", verifies the Ed25519 signature over the text bytes (every line
up to and including the newline before the blank line), and parses the
checkpoint text (origin = the key's name, decimal size without leading
zeros, base64 root of 32 bytes). With --key it also derives the public key
from the private key and checks the verifier key carries exactly it.

Prints "ok origin=... size=... root=<base64>" and exits 0, or prints
"FAIL: reason" and exits 1; 2 on usage errors.
"""
import base64
import binascii
import hashlib
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

EM_DASH_SPACE = "\u2014 ".encode("utf-8")   # e2 80 94 20
ALG_ED25519 = 0x01


class Fail(Exception):
    pass


def b64_strict(s):
    """Standard alphabet, padded, nothing else."""
    if isinstance(s, bytes):
        s = s.decode("ascii", "strict")
    if len(s) % 4 != 0 or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s):
        raise Fail("not padded standard base64: %r" % s[:80])
    raw = base64.b64decode(s, validate=True)
    if base64.b64encode(raw).decode("ascii") != s:
        raise Fail("non-canonical base64: %r" % s[:80])
    return raw


def parse_vkey(text):
    # The name holds no '+' and the key ID is 8 hex digits; the base64 key
    # after them may hold '+' of its own.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise Fail("verifier key is not name+keyid+key")
    name, hexid, keyb64 = parts
    if not name or any(ord(c) <= 0x20 or c == "+" or ord(c) == 0x7F
                       for c in name):
        raise Fail("bad key name %r" % name)
    if not re.fullmatch(r"[0-9a-f]{8}", hexid):
        raise Fail("key ID is not 8 lower-case hex digits: %r" % hexid)
    raw = b64_strict(keyb64)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise Fail("key is not 0x01 followed by 32 bytes (got %d bytes)"
                   % len(raw))
    pub = raw[1:]
    key_id = hashlib.sha256(name.encode("utf-8") + b"\n" +
                            bytes([ALG_ED25519]) + pub).digest()[:4]
    if key_id != binascii.unhexlify(hexid):
        raise Fail("key ID %s is not SHA-256(name, newline, 0x01, key)[:4] "
                   "= %s" % (hexid, key_id.hex()))
    return name, key_id, pub


def split_note(note):
    if not note.endswith(b"\n"):
        raise Fail("note does not end in a newline")
    sep = note.rfind(b"\n\n")
    if sep < 0:
        raise Fail("note has no blank line before its signatures")
    text, sigs = note[:sep + 1], note[sep + 2:]
    if not text or text.startswith(b"\n") or b"\n\n" in text:
        raise Fail("note text is empty or holds a blank line")
    if b"\x00" in note:
        raise Fail("note holds a NUL byte")
    lines = sigs.split(b"\n")
    if lines[-1] != b"":
        raise Fail("signature block does not end in a newline")
    return text, lines[:-1]


def find_signature(lines, name, key_id):
    found = None
    for line in lines:
        if not line.startswith(EM_DASH_SPACE):
            raise Fail("signature line does not start with an em dash and "
                       "a space: %r" % line[:40])
        rest = line[len(EM_DASH_SPACE):]
        sp = rest.rfind(b" ")
        if sp <= 0:
            raise Fail("signature line has no name and signature")
        if rest[:sp].decode("utf-8") != name:
            continue
        raw = b64_strict(rest[sp + 1:])
        if len(raw) != 4 + 64:
            raise Fail("signature of %s is %d bytes, not 4 + 64"
                       % (name, len(raw)))
        if raw[:4] != key_id:
            continue
        if found is not None:
            raise Fail("two signatures by %s with the same key ID" % name)
        found = raw[4:]
    if found is None:
        raise Fail("no signature by %s with key ID %s" % (name, key_id.hex()))
    return found


def parse_checkpoint(text, name):
    lines = text.decode("utf-8").split("\n")
    if len(lines) < 4:
        raise Fail("checkpoint text needs origin, size and root lines")
    origin, size, root = lines[0], lines[1], lines[2]
    if origin != name:
        raise Fail("checkpoint origin %r is not the key's name %r"
                   % (origin, name))
    if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size) or int(size) >= 2**64:
        raise Fail("checkpoint size %r is not a decimal number" % size)
    raw = b64_strict(root)
    if len(raw) != 32:
        raise Fail("checkpoint root is %d bytes, not 32" % len(raw))
    return origin, int(size), root


def main(argv):
    if len(argv) not in (3, 5) or (len(argv) == 5 and argv[3] != "--key"):
        sys.stderr.write(__doc__)
        return 2
    vkey = argv[1]
    if os.path.isfile(vkey):
        with open(vkey, "r", encoding="utf-8") as f:
            vkey = f.read().strip()
    with open(argv[2], "rb") as f:
        note = f.read()
    try:
        name, key_id, pub = parse_vkey(vkey)
        if len(argv) == 5:
            with open(argv[4], "rb") as f:
                priv = serialization.load_pem_private_key(f.read(), None)
            if not isinstance(priv, Ed25519PrivateKey):
                raise Fail("--key is not an Ed25519 private key")
            derived = priv.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            if derived != pub:
                raise Fail("the verifier key does not carry the public half "
                           "of --key")
        text, lines = split_note(note)
        sig = find_signature(lines, name, key_id)
        try:
            Ed25519PublicKey.from_public_bytes(pub).verify(sig, text)
        except InvalidSignature:
            raise Fail("Ed25519 signature by %s does not verify over the "
                       "%d text bytes" % (name, len(text)))
        origin, size, root = parse_checkpoint(text, name)
    except (Fail, UnicodeDecodeError, ValueError) as e:
        print("FAIL: %s" % e)
        return 1
    print("ok origin=%s size=%d root=%s" % (origin, size, root))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
