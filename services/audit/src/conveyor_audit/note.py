"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and C2SP checkpoints (c2sp.org/tlog-checkpoint).

    note       = text, "\\n", one or more signature lines
    text       = non-empty UTF-8 ending in "\\n" (the signature covers exactly these bytes)
    sig line   = "\u2014 " key name " " base64(4-byte key id || 64-byte Ed25519 signature) "\\n"
    key id     = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]
    vkey       = key name "+" hex(key id) "+" base64(0x01 || public key)         (what verifiers are given)
    skey       = "PRIVATE+KEY+" key name "+" hex(key id) "+" base64(0x01 || seed) (what the signer holds)
    checkpoint = origin "\\n" decimal tree size "\\n" base64(root hash) "\\n"
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

ED25519 = b"\x01"
EM_DASH = "\u2014"
PRIVATE_PREFIX = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A key or note that is malformed, or a signature that does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"key name {name!r} must be non-empty with no spaces or '+'")


@dataclass(frozen=True)
class Verifier:
    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def vkey(self) -> str:
        encoded = base64.b64encode(ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, signature: bytes, text: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> "Signer":
        _check_name(name)
        seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(name, seed)

    @property
    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def skey(self) -> str:
        encoded = base64.b64encode(ED25519 + self.seed).decode()
        return f"{PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def sign(self, text: str) -> str:
        """The signed note: text, a blank line, one signature line."""
        if not text.endswith("\n") or "\n\n" in text:
            raise NoteError("note text must end in a newline and contain no blank line")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        blob = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{text}\n{EM_DASH} {self.name} {blob}\n"


def _key_parts(text: str, what: str) -> tuple[str, bytes, bytes]:
    parts = text.strip().split("+", 2)  # the base64 key may itself contain "+"
    if len(parts) != 3:
        raise NoteError(f"{what} must look like <name>+<key id hex>+<base64 key>")
    name, hex_id, encoded = parts
    _check_name(name)
    try:
        raw = base64.b64decode(encoded, validate=True)
        claimed_id = bytes.fromhex(hex_id)
    except (binascii.Error, ValueError) as exc:
        raise NoteError(f"{what} is not valid base64/hex: {exc}") from exc
    if len(raw) != 33 or raw[:1] != ED25519 or len(claimed_id) != 4:
        raise NoteError(f"{what} is not an Ed25519 key (expected 0x01 followed by 32 bytes)")
    return name, claimed_id, raw[1:]


def parse_vkey(text: str) -> Verifier:
    name, claimed_id, public = _key_parts(text, "verifier key")
    verifier = Verifier(name, public)
    if verifier.key_id != claimed_id:
        raise NoteError("verifier key: the key id does not match the name and key")
    return verifier


def parse_skey(text: str) -> Signer:
    text = text.strip()
    if not text.startswith(PRIVATE_PREFIX):
        raise NoteError(f"signing key must start with {PRIVATE_PREFIX}")
    name, claimed_id, seed = _key_parts(text[len(PRIVATE_PREFIX):], "signing key")
    signer = Signer(name, seed)
    if signer.verifier.key_id != claimed_id:
        raise NoteError("signing key: the key id does not match the name and key")
    return signer


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if a signature line by `verifier` verifies; NoteError otherwise."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, signatures = note[: split + 1], note[split + 2:]
    for line in signatures[:-1].split("\n"):
        prefix, _, rest = line.partition(" ")
        name, _, blob = rest.partition(" ")
        if prefix != EM_DASH or not name or not blob:
            raise NoteError(f"malformed signature line {line!r}")
        if name != verifier.name:
            continue  # signatures by keys we were not given are ignored, as the spec says
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise NoteError(f"signature by {name} is not base64") from exc
        if raw[:4] != verifier.key_id:
            continue
        if len(raw) != 68 or not verifier.verify(raw[4:], text.encode()):
            raise NoteError(f"the signature by {name} does not verify: the note was altered or forged")
        return text
    raise NoteError(f"no signature by {verifier.name}+{verifier.key_id.hex()} on this note")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise NoteError("a checkpoint has an origin line, a size line and a root hash line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("checkpoint root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


def verify_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint
