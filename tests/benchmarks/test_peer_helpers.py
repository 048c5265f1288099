"""Wire formats of the peers benchmark and its py-spy summary."""

from __future__ import annotations

import json

import numpy as np

import peer_profile
import peer_servers


def test_oip_binary_request_layout() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    body, n = peer_servers.oip_binary_body(x)
    header = json.loads(body[:n])
    assert header["inputs"][0]["shape"] == [2, 3]
    assert header["inputs"][0]["parameters"] == {"binary_data_size": 24}
    assert header["outputs"] == [{"name": "codes", "parameters": {"binary_data": True}}]
    assert np.array_equal(np.frombuffer(body[n:], "<f4").reshape(2, 3), x)


def test_decode_answer_reads_each_format() -> None:
    codes = np.array([[0.5, -1.0], [2.0, 3.0]], np.float32)
    other = np.ones(3, np.float32).tobytes()
    meta = {
        "outputs": [
            {"name": "labels", "shape": [3], "parameters": {"binary_data_size": 12}},
            {"name": "codes", "shape": [2, 2], "parameters": {"binary_data_size": 16}},
        ]
    }
    head = json.dumps(meta).encode()
    binary = peer_servers.decode_answer(
        head + other + codes.tobytes(), {"Inference-Header-Content-Length": str(len(head))}
    )
    npy = peer_servers.decode_answer(
        peer_servers.npy_bytes(codes), {"Content-Type": "application/x-npy"}
    )
    plain = peer_servers.decode_answer(json.dumps({"codes": codes.tolist()}).encode(), {})
    oip = {"outputs": [{"name": "codes", "shape": [2, 2], "data": codes.ravel().tolist()}]}
    oip_json = peer_servers.decode_answer(json.dumps(oip).encode(), {})
    for got in (binary, npy, plain, oip_json):
        assert np.array_equal(got, codes)


def test_profile_summary_drops_idle_waits_and_ranks_self_time() -> None:
    collapsed = "\n".join(
        [
            "main (a.py:1);work (a.py:5);parse (b.py:9) 6",
            "main (a.py:1);work (a.py:5) 2",
            "main (a.py:1);run (c.py:3) 2",
            "_bootstrap (threading.py:1);Condition.wait (threading.py:320) 90",
        ]
    )
    total, rows = peer_profile.summarize(collapsed)
    assert total == 10
    by_name = {f: (incl, own) for f, incl, own in rows}
    assert rows[0][0] == "parse (b.py)" and by_name["parse (b.py)"] == (0.6, 0.6)
    assert by_name["work (a.py)"] == (0.8, 0.2)
    assert by_name["main (a.py)"] == (1.0, 0.0)
