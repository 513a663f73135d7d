"""Merkle trees exactly as RFC 9162 §2.1 (Certificate Transparency v2), SHA-256. Pure: no I/O.

    MTH({})      = SHA-256()
    MTH({d0})    = SHA-256(0x00 || d0)                     leaf hash
    MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k = largest power of two < n

A *complete subtree* (level L, index i) covers leaves [i * 2^L, (i + 1) * 2^L). Every subtree the RFC
recursions ever look at decomposes into complete subtrees, so anyone who stores those hashes (the ledger
does) can produce roots and audit paths without rehashing every leaf. Proof generation is split in
two: a *plan* names every complete subtree a proof needs (no I/O), a `NodesGetter` fetches them all at
once (the ledger: one SQL query), and the plan is folded into hashes. O(log n) positions, one round trip.
"""

import hashlib
from collections.abc import Callable, Mapping, Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Position = tuple[int, int]  # (level, index) of a complete subtree
# Fetches the hashes of the given complete subtrees, all at once; raises LookupError if one is missing.
NodesGetter = Callable[[Sequence[Position]], Mapping[Position, bytes]]
# A proof or root to be computed: each element is the complete subtrees whose fold is one hash.
Plan = list[list[Position]]


def hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, by the definition (the reference the rest is checked against)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_point(n)
    return hash_children(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


def complete_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """levels[L][i] = hash of complete subtree (L, i); for callers that hold every leaf in memory."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) >= 2:
        below = levels[-1]
        levels.append([hash_children(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def getter_of(levels: list[list[bytes]]) -> NodesGetter:
    return lambda positions: {(level, index): levels[level][index] for level, index in positions}


def subtree_positions(start: int, size: int) -> list[Position]:
    """The complete subtrees that make up D[start:start+size] (`start` aligned as in every RFC 9162
    recursion), leftmost (largest) first: MTH of the range is their right-to-left fold."""
    positions = []
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            positions.append((level, start >> level))
            start += 1 << level
    return positions


def fold(peaks: Sequence[bytes]) -> bytes:
    """MTH of consecutive complete subtrees, largest first: RFC 9162 splits off the left one each time."""
    if not peaks:
        return EMPTY_ROOT
    node = peaks[-1]
    for peak in reversed(peaks[:-1]):
        node = hash_children(peak, node)
    return node


def resolve(plan: Plan, nodes: NodesGetter) -> list[bytes]:
    """Fetch every subtree the plan names in one call, then fold each element of the plan."""
    found = nodes(list(dict.fromkeys(position for part in plan for position in part)))
    return [fold([found[position] for position in part]) for part in plan]


def root_plan(size: int) -> Plan:
    return [subtree_positions(0, size)]


def inclusion_plan(index: int, size: int) -> Plan:
    """What PATH(index, D[size]) of RFC 9162 §2.1.3.1 is made of, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    plan: Plan = []
    start = 0
    # Walk down from the root; each step records the sibling subtree, so reverse at the end.
    while size > 1:
        k = split_point(size)
        if index < k:
            plan.append(subtree_positions(start + k, size - k))
            size = k
        else:
            plan.append(subtree_positions(start, k))
            start, index, size = start + k, index - k, size - k
    plan.reverse()
    return plan


def inclusion_proof(index: int, size: int, nodes: NodesGetter) -> list[bytes]:
    """The audit path PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first."""
    return resolve(inclusion_plan(index, size), nodes)


def root_from_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2 steps 1-5: the root the proof implies, or None if the proof is malformed."""
    if index >= size or index < 0:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            # A right-edge node with no right sibling at this level: climb until it has one.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_inclusion(index, size, leaf_hash, proof) == root


class CompactRange:
    """The right edge of a growing tree: the complete subtrees whose sizes are the set bits of `size`.

    Appending a leaf merges equal-sized neighbours (like binary addition) and reports every complete
    subtree that came into being, so a store can persist them as it goes.
    """

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if len(peaks) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} peaks, got {len(peaks)}")
        self.size = size
        self.peaks = list(peaks)  # largest (leftmost) first

    @staticmethod
    def peak_positions(size: int) -> list[Position]:
        """(level, index) of each peak of a tree of `size` leaves, leftmost first."""
        return subtree_positions(0, size)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        created = [(0, self.size, leaf_hash)]
        node, level, index = leaf_hash, 0, self.size
        while index & 1:  # a right child completes its parent
            node = hash_children(self.peaks.pop(), node)
            level, index = level + 1, index >> 1
            created.append((level, index, node))
        self.peaks.append(node)
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold(self.peaks)

    def copy(self) -> "CompactRange":
        return CompactRange(self.size, self.peaks)
