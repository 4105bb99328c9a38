"""The print() capture stream: what it does to the stream it wraps."""

from __future__ import annotations

import gc
import logging
import sys

from funchost.invoke.logs import InvocationStream


def test_a_stream_over_a_closed_target_flushes_and_is_collected_without_an_error(monkeypatch, tmp_path):
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    target = (tmp_path / "out.txt").open("w")  # a real file: flushing it once closed raises
    stream = InvocationStream(target, logging.INFO)
    stream.write("passes through\n")
    target.close()
    assert (tmp_path / "out.txt").read_text() == "passes through\n"
    stream.flush()
    del stream
    gc.collect()
    assert unraisable == []
