"""How a worker cuts a video's needed frames into streamed windows (:func:`featkit.workers.window_spans`)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from featkit.workers.messages import window_spans


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 20_000), st.integers(1, 512), st.integers(1, 128))
def test_windows_cover_the_frames_in_batches_and_end_small(n, window, tail):
    spans = window_spans(n, window, tail)
    assert [lo for lo, _ in spans] == [0, *(hi for _, hi in spans[:-1])][: len(spans)]  # contiguous, in order
    assert (spans[-1][1] if spans else 0) == n
    assert all(hi > lo for lo, hi in spans)
    assert all(hi - lo <= max(window, 1) for lo, hi in spans)  # memory stays that of a window
    if n <= window:
        assert spans == ([(0, n)] if n else [])
        return
    step = min(tail, window)
    assert all(lo % step == 0 for lo, _ in spans)  # batches as when encoding the video at once
    assert spans[-1][1] - spans[-1][0] <= step  # what nothing overlaps is one batch at most
    # Full windows (whole batches), then a taper of about log2(window / tail) windows: not many more than needed.
    batches = max(window // step, 1)
    assert len(spans) <= math.ceil(n / (batches * step)) + math.ceil(math.log2(batches)) + 2
