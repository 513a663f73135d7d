"""Consistency proofs exactly as RFC 9162 §2.1.4 (generation §2.1.4.1, verification §2.1.4.2). Pure: no I/O.

A consistency proof between tree sizes m <= n shows that the first m leaves of the size-n tree are the
size-m tree: the log only ever appended. Generation reads O(log n) stored complete subtrees through one
`NodesGetter` call; verification needs nothing but the two roots.
"""

from collections.abc import Sequence

from .merkle import NodesGetter, Plan, hash_children, resolve, split_point, subtree_positions


def consistency_plan(first: int, second: int) -> Plan:
    """What PROOF(m, D[n]) = SUBPROOF(m, D[n], true) is made of, iteratively: deepest node first as in the RFC."""
    if not 0 <= first <= second:
        raise ValueError(f"consistency needs 0 <= first <= second, got first={first}, second={second}")
    if first == 0 or first == second:
        return []
    reversed_plan: Plan = []
    start, m, n, whole = 0, first, second, True  # `whole`: is the old tree's root itself (b in the RFC)?
    while m != n:
        k = split_point(n)
        if m <= k:
            reversed_plan.append(subtree_positions(start + k, n - k))
            n = k
        else:
            reversed_plan.append(subtree_positions(start, k))
            start, m, n, whole = start + k, m - k, n - k, False
    if not whole:
        reversed_plan.append(subtree_positions(start, m))  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
    reversed_plan.reverse()
    return reversed_plan


def consistency_proof(first: int, second: int, nodes: NodesGetter) -> list[bytes]:
    return resolve(consistency_plan(first, second), nodes)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: True iff `proof` shows the size-`first` tree is a prefix of the size-`second` tree."""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # every tree extends the empty tree
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
