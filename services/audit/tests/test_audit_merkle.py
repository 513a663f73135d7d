"""RFC 9162 Merkle tree: published vectors plus exhaustive properties for every index of every size."""

import hashlib

import pytest

from conveyor_audit import merkle

# The RFC 6962 test tree used by Certificate Transparency and Trillian. Leaf inputs, complete-subtree
# hashes and roots by size are transparency-dev/merkle testonly/constants.go (LeafInputs, NodeHashes,
# RootHashes); the audit paths are the inclusion-proof cases of the same suite (google/trillian
# merkle/log_verifier_test.go), converted to 0-based leaf indexes.
LEAVES = [
    b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
NODES = [
    ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
    ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
    ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
PATHS = [  # (0-based index, tree size, audit path)
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
MAX_SIZE = 100


def hashes(n: int) -> list[bytes]:
    return [merkle.hash_leaf(i.to_bytes(4, "big")) for i in range(n)]


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) transcribed literally from RFC 9162 §2.1.3.1, over leaf hashes."""
    if len(leaves) == 1:
        return []
    k = merkle.split_point(len(leaves))
    if index < k:
        return reference_path(index, leaves[:k]) + [merkle.root_of(leaves[k:])]
    return reference_path(index - k, leaves[k:]) + [merkle.root_of(leaves[:k])]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_published_vectors(size: int) -> None:
    leaf_hashes = [merkle.hash_leaf(leaf) for leaf in LEAVES[:size]]
    assert merkle.root_of(leaf_hashes).hex() == ROOTS[size]
    tree = merkle.CompactRange()
    for leaf_hash in leaf_hashes:
        tree.append(leaf_hash)
    assert tree.root().hex() == ROOTS[size]


def test_empty_root_is_hash_of_nothing() -> None:
    assert merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_complete_subtrees_match_published_node_hashes() -> None:
    levels = merkle.complete_levels([merkle.hash_leaf(leaf) for leaf in LEAVES])
    assert [[h.hex() for h in level] for level in levels] == NODES


@pytest.mark.parametrize(("index", "size", "path"), PATHS)
def test_audit_paths_match_published_vectors(index: int, size: int, path: list[str]) -> None:
    leaf_hashes = [merkle.hash_leaf(leaf) for leaf in LEAVES[:size]]
    node = merkle.getter_of(merkle.complete_levels(leaf_hashes))
    assert [h.hex() for h in merkle.inclusion_proof(index, size, node)] == path
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(index, size, leaf_hashes[index], [bytes.fromhex(p) for p in path], root)


def test_every_index_of_every_size_proves_and_only_proves_itself() -> None:
    all_leaves = hashes(MAX_SIZE)
    levels = merkle.complete_levels(all_leaves)  # subtrees of a prefix are subtrees of the whole
    node = merkle.getter_of(levels)
    for size in range(1, MAX_SIZE + 1):
        leaves = all_leaves[:size]
        root = merkle.root_of(leaves)
        other_root = merkle.root_of(all_leaves[: size + 1]) if size < MAX_SIZE else merkle.EMPTY_ROOT
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, node)
            assert proof == reference_path(index, leaves), (index, size)
            assert merkle.verify_inclusion(index, size, leaves[index], proof, root)
            assert not merkle.verify_inclusion(index, size, leaves[index], proof, other_root)
            if size > 1:
                assert not merkle.verify_inclusion((index + 1) % size, size, leaves[index], proof, root)
                assert not merkle.verify_inclusion(index, size, leaves[(index + 1) % size], proof, root)
                assert not merkle.verify_inclusion(index, size, leaves[index], proof[:-1], root)
                flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                assert not merkle.verify_inclusion(index, size, leaves[index], flipped, root)
            assert not merkle.verify_inclusion(index, size, leaves[index], [*proof, root], root)


def test_compact_range_reports_every_complete_subtree_once() -> None:
    leaves = hashes(MAX_SIZE)
    levels = merkle.complete_levels(leaves)
    tree = merkle.CompactRange()
    created: dict[tuple[int, int], bytes] = {}
    for size, leaf in enumerate(leaves, start=1):
        for level, index, node in tree.append(leaf):
            assert (level, index) not in created
            created[(level, index)] = node
        assert tree.root() == merkle.root_of(leaves[:size])
        peaks = [created[pos] for pos in merkle.CompactRange.peak_positions(size)]
        assert merkle.CompactRange(size, peaks).root() == tree.root()
    assert created == {(lv, i): h for lv, level in enumerate(levels) for i, h in enumerate(level)}
    assert len(created) == 2 * MAX_SIZE - MAX_SIZE.bit_count()


@pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 4)])
def test_out_of_range_index_is_refused(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_proof(index, size, merkle.getter_of(merkle.complete_levels(hashes(4))))
    assert not merkle.verify_inclusion(index, size, hashes(1)[0], [], merkle.EMPTY_ROOT)
