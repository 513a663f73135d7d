"""Startup's last step for a long-running service: keep the cyclic GC off what lives forever."""

import gc


def settle_heap(young_objects: int | None = None) -> None:
    """Freeze everything built so far (apps, clients, imported modules): it lives as long as the
    process, and a full collection would otherwise walk it again every time, which shows up as tail
    latency and, on a hot path, as throughput.

    young_objects: collect the youngest generation after this many allocations instead of 700, for a
    path that allocates thousands of short-lived objects per batch and would otherwise promote them
    into older generations before they die.
    """
    gc.collect()
    gc.freeze()
    if young_objects is not None:
        _, middle, old = gc.get_threshold()
        gc.set_threshold(young_objects, middle, old)
