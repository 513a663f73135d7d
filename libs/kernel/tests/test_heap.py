import gc

from conveyor_kernel import settle_heap


def test_settle_heap_freezes_what_exists_and_sets_the_young_threshold() -> None:
    before = gc.get_threshold()
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        settle_heap(young_objects=12_345)
        assert gc.get_freeze_count() > 1000  # every module, class and function loaded so far
        assert gc.get_threshold() == (12_345, *before[1:])
        settle_heap()  # no threshold given: the current one stays
        assert gc.get_threshold()[0] == 12_345
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
