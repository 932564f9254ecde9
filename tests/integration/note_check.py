#!/usr/bin/env python3
"""An independent reader of pg_qmdb's signed checkpoints, written from the
C2SP specs (signed-note, tlog-checkpoint) with Python's standard library:
it parses the note, checks each verifier key's ID and each signature line's
shape, and writes what openssl must verify (the signed text, and for each
trusted signature the key as DER and the 64-byte signature) to a directory.

usage: note_check.py NOTE_FILE OUT_DIR VERIFIER_KEY...
prints: origin size root_hex range_start trusted_signatures
"""
import base64
import hashlib
import os
import sys

EM_DASH = "\u2014"


def fail(why):
    print("note_check: " + why, file=sys.stderr)
    sys.exit(1)


def main():
    note = open(sys.argv[1], "rb").read()
    out = sys.argv[2]
    keys = {}
    for vk in sys.argv[3:]:
        name, key_id, key = vk.split("+", 2)
        raw = base64.b64decode(key, validate=True)
        if len(raw) != 33 or raw[0] != 1:
            fail("not an Ed25519 verifier key: " + vk)
        want = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
        if want != key_id:
            fail("verifier key ID mismatch: " + vk)
        keys[(name, bytes.fromhex(key_id))] = raw[1:]
    text = note.decode("utf-8")
    if any(ord(c) < 0x20 and c != "\n" for c in text) or not text.endswith("\n"):
        fail("control characters or no final newline")
    split = text.rfind("\n\n")
    body, sigs = text[: split + 1], text[split + 2 :]
    lines = body.split("\n")[:-1]
    if len(lines) != 4 or not lines[3].startswith("range_start "):
        fail("not origin, size, root, range_start: %r" % lines)
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    if str(size) != lines[1] or len(root) != 32:
        fail("non-canonical size or a root that is not 32 bytes")
    trusted = 0
    with open(os.path.join(out, "text"), "wb") as f:
        f.write(body.encode("utf-8"))
    for i, line in enumerate(sigs.split("\n")[:-1]):
        if not line.startswith(EM_DASH + " "):
            fail("a signature line without the em dash: %r" % line)
        name, blob = line[2:].split(" ")
        raw = base64.b64decode(blob, validate=True)
        key = keys.get((name, raw[:4]))
        if key is None:
            continue
        if len(raw) != 68:
            fail("an Ed25519 signature is 64 bytes")
        der = bytes.fromhex("302a300506032b6570032100") + key
        with open(os.path.join(out, "key%d.der" % i), "wb") as f:
            f.write(der)
        with open(os.path.join(out, "sig%d" % i), "wb") as f:
            f.write(raw[4:])
        trusted += 1
    print(origin, size, root.hex(), lines[3].split(" ")[1], trusted)


main()
