"""RFC 9162 consistency proofs: published CT vectors plus every pair of sizes of growing trees."""

import pytest

from conveyor_audit import merkle
from conveyor_audit.consistency import consistency_proof, verify_consistency

# The RFC 6962 test tree of test_audit_merkle.py (same 8 leaves); the consistency cases are the CT
# log verifier suite's (Chromium net/cert/ct_log_verifier_unittest.cc, kConsistencyProofs).
LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
VECTORS = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
REFERENCE_MAX = 48   # pairs checked against the literal RFC recursion
VERIFY_MAX = 160     # pairs checked by verification (and its negatives)


def hashes(n: int) -> list[bytes]:
    return [merkle.hash_leaf(i.to_bytes(4, "big")) for i in range(n)]


def reference_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) transcribed literally from RFC 9162 §2.1.4.1."""
    n = len(leaves)
    if m == n:
        return [] if whole else [merkle.root_of(leaves)]
    k = merkle.split_point(n)
    if m <= k:
        return reference_subproof(m, leaves[:k], whole) + [merkle.root_of(leaves[k:])]
    return reference_subproof(m - k, leaves[k:], False) + [merkle.root_of(leaves[:k])]


@pytest.mark.parametrize(("first", "second", "path"), VECTORS)
def test_consistency_proofs_match_published_vectors(first, second, path) -> None:
    leaf_hashes = [merkle.hash_leaf(leaf) for leaf in LEAVES]
    node = merkle.getter_of(merkle.complete_levels(leaf_hashes))
    proof = consistency_proof(first, second, node)
    assert [h.hex() for h in proof] == path
    old, new = merkle.root_of(leaf_hashes[:first]), merkle.root_of(leaf_hashes[:second])
    assert verify_consistency(first, second, old, new, proof)
    if proof:
        assert not verify_consistency(first, second, new, old, proof)
        assert not verify_consistency(first - 1, second, old, new, proof)
        assert not verify_consistency(first + 1, second, old, new, proof)
        assert not verify_consistency(first, second * 2, old, new, proof)


def test_generation_matches_the_rfc_recursion_for_every_pair() -> None:
    leaves = hashes(REFERENCE_MAX)
    node = merkle.getter_of(merkle.complete_levels(leaves))
    for second in range(1, REFERENCE_MAX + 1):
        for first in range(1, second + 1):
            expected = reference_subproof(first, leaves[:second], True)
            assert consistency_proof(first, second, node) == expected, (first, second)


def test_every_pair_verifies_and_nothing_else_does() -> None:
    leaves = hashes(VERIFY_MAX)
    node = merkle.getter_of(merkle.complete_levels(leaves))
    forked = [*leaves]
    roots = [merkle.EMPTY_ROOT]
    tree = merkle.CompactRange()
    for leaf in leaves:
        tree.append(leaf)
        roots.append(tree.root())
    for second in range(1, VERIFY_MAX + 1):
        for first in range(0, second + 1):
            proof = consistency_proof(first, second, node)
            assert verify_consistency(first, second, roots[first], roots[second], proof), (first, second)
            if 0 < first < second:
                assert not verify_consistency(first, second, roots[first], roots[second - 1], proof)
                assert not verify_consistency(first, second, roots[first - 1], roots[second], proof)
                flipped = [*proof[:-1], bytes([proof[-1][0] ^ 1]) + proof[-1][1:]]
                assert not verify_consistency(first, second, roots[first], roots[second], flipped)
                assert not verify_consistency(first, second, roots[first], roots[second], proof[:-1])
                assert not verify_consistency(first, second, roots[first], roots[second], [*proof, proof[-1]])
    # A log that rewrote entry 3 cannot prove it extends the size-5 tree it showed before.
    forked[3] = merkle.hash_leaf(b"rewritten")
    forked_node = merkle.getter_of(merkle.complete_levels(forked))
    assert not verify_consistency(5, 9, roots[5], merkle.root_of(forked[:9]), consistency_proof(5, 9, forked_node))


@pytest.mark.parametrize(("first", "second"), [(3, 2), (-1, 4)])
def test_impossible_sizes_are_refused(first, second) -> None:
    with pytest.raises(ValueError, match="first"):
        consistency_proof(first, second, merkle.getter_of(merkle.complete_levels(hashes(4))))
    assert not verify_consistency(first, second, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])


def test_inclusion_for_every_index_of_every_size_up_to_300() -> None:
    leaves = hashes(300)
    node = merkle.getter_of(merkle.complete_levels(leaves))
    tree = merkle.CompactRange()
    for size in range(1, 301):
        tree.append(leaves[size - 1])
        root = tree.root()
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, node)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, root), (index, size)
            if size > 1:
                assert not merkle.verify_inclusion(index, size, leaves[(index + 1) % size], proof, root)
