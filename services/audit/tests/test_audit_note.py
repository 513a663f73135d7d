"""C2SP signed notes and checkpoints: the Go reference vector byte for byte, then every way to break one."""

import base64

import pytest

from conveyor_audit.keys import dev_key_path, load_signer
from conveyor_audit.note import (
    Checkpoint,
    NoteError,
    Signer,
    key_id,
    open_note,
    parse_checkpoint,
    parse_skey,
    parse_vkey,
    verify_checkpoint,
)
from conveyor_audit.settings import AuditSettings
from conveyor_kernel import AuthSettings, ConfigurationError

# The example of golang.org/x/mod/sumdb/note (the reference implementation the C2SP spec grew from).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann " + GO_SIGNATURE + "\n"


def test_reference_vector_signs_and_opens_byte_for_byte() -> None:
    signer = parse_skey(GO_SKEY)
    assert signer.skey() == GO_SKEY
    assert signer.verifier.vkey() == GO_VKEY
    assert signer.sign(GO_TEXT) == GO_NOTE
    verifier = parse_vkey(GO_VKEY)
    assert key_id("PeterNeumann", verifier.public_key).hex() == "c74f20a3"
    assert open_note(GO_NOTE, verifier) == GO_TEXT


def test_any_changed_character_of_the_note_is_refused() -> None:
    verifier = parse_vkey(GO_VKEY)
    for position in range(len(GO_TEXT)):
        altered = GO_NOTE[:position] + chr(ord(GO_NOTE[position]) ^ 1) + GO_NOTE[position + 1:]
        with pytest.raises(NoteError):
            open_note(altered, verifier)


def test_foreign_signatures_are_ignored_and_a_missing_one_is_named() -> None:
    ours, theirs = Signer.generate("log.example"), Signer.generate("witness.example")
    note = ours.sign("hello\n")
    cosigned = note + theirs.sign("hello\n").split("\n\n", 1)[1]
    assert open_note(cosigned, ours.verifier) == "hello\n"
    with pytest.raises(NoteError, match="no signature by witness.example"):
        open_note(note, theirs.verifier)
    impostor = Signer.generate("log.example")  # same name, other key: a different key id
    with pytest.raises(NoteError, match="no signature"):
        open_note(impostor.sign("hello\n"), ours.verifier)


@pytest.mark.parametrize("bad", [
    "", "PeterNeumann+c74f20a3", "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "Peter Neumann+c74f20a3+AA==",
])
def test_malformed_verifier_keys_are_refused(bad) -> None:
    with pytest.raises(NoteError):
        parse_vkey(bad)


def test_checkpoint_round_trip_and_origin_check() -> None:
    signer = Signer.generate("conveyor.test/audit")
    body = Checkpoint("conveyor.test/audit", 42, bytes(range(32))).body()
    assert body == f"conveyor.test/audit\n42\n{base64.b64encode(bytes(range(32))).decode()}\n"
    checkpoint = verify_checkpoint(signer.sign(body), signer.verifier, origin="conveyor.test/audit")
    assert (checkpoint.size, checkpoint.root) == (42, bytes(range(32)))
    with pytest.raises(NoteError, match="origin"):
        verify_checkpoint(signer.sign(body), signer.verifier, origin="other")
    for broken in ["x\n042\nAAAA\n", "x\n-1\nAAAA\n", "x\n1\nAAAA\n", "x\n1\n"]:
        with pytest.raises(NoteError):
            parse_checkpoint(broken)


# production mode also needs a token issuer (kernel settings); this test is about the signing key
IDP = AuthSettings(issuer="https://idp.example", jwks_url="https://idp.example/jwks.json")


def test_production_refuses_to_start_without_a_key(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="CONVEYOR_SIGNING_KEY is required"):
        load_signer(AuditSettings(data_dir=tmp_path, mode="production", auth=IDP))
    assert not dev_key_path(AuditSettings(data_dir=tmp_path)).exists()  # nothing generated silently
    with pytest.raises(ConfigurationError, match="not usable"):
        load_signer(AuditSettings(data_dir=tmp_path, mode="production", auth=IDP,
                                  signing_key="PRIVATE+KEY+x+00+AA=="))
    given = load_signer(AuditSettings(data_dir=tmp_path, mode="production", auth=IDP, signing_key=GO_SKEY))
    assert given.verifier.vkey() == GO_VKEY


def test_dev_mode_generates_one_key_and_keeps_it(tmp_path, caplog) -> None:
    settings = AuditSettings(data_dir=tmp_path)
    first = load_signer(settings)
    assert "generated a checkpoint signing key" in caplog.text
    assert dev_key_path(settings).stat().st_mode & 0o777 == 0o600
    assert load_signer(settings) == first
