"""Streamlit app (streamlit-bridge/app.py) under streamlit.testing.v1.AppTest, against a running bridge.

Run by tests/streamlit.test.ts, which starts a bridge over a seeded grid and passes its URL in
GRID_BRIDGE_URL. The expected values are read from the same bridge, so the test checks that the
app shows what the bridge says (not numbers written into the test).
"""
from __future__ import annotations

import json
import os
import urllib.request

import pytest
from streamlit.testing.v1 import AppTest

APP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "streamlit-bridge", "app.py")
BRIDGE = os.environ.get("GRID_BRIDGE_URL")

pytestmark = pytest.mark.skipif(not BRIDGE, reason="GRID_BRIDGE_URL not set: run through tests/streamlit.test.ts")


def bridge_json(path: str) -> dict:
    with urllib.request.urlopen(BRIDGE + path, timeout=10) as res:
        return json.loads(res.read().decode("utf-8"))


def run_app(url: str) -> AppTest:
    # The app takes its default bridge URL from the environment at each run.
    os.environ["GRID_BRIDGE_URL"] = url
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def test_given_a_running_bridge_when_the_app_runs_then_it_shows_its_balances_ledger_and_rejections():
    at = run_app(BRIDGE)
    assert not at.exception, [e.value for e in at.exception]
    world = bridge_json("/api/world")
    health = bridge_json("/api/health")

    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Ledger head"] == f"#{health['head']['last_id']}"
    assert int(metrics["Proposals applied"]) == bridge_json("/api/metrics")["totals"]["proposals"]

    balances = at.dataframe[0].value
    for actor, held in world["balances"].items():
        for resource, amount in held.items():
            assert int(balances.loc[actor, resource]) == int(amount), (actor, resource)

    ledger = at.dataframe[1].value
    newest = bridge_json("/api/ledger?order=desc&limit=1")["rows"][0]
    assert int(ledger.iloc[0]["id"]) == int(newest["id"])

    rejections = at.dataframe[2].value
    expected = bridge_json("/api/rejections?order=desc&limit=50")["rows"]
    assert len(rejections) == len(expected) > 0
    assert list(rejections["code"]) == [r["code"] for r in expected]

    assert any("Circuit breaker closed" in s.value for s in at.success)


def test_given_a_code_filter_when_chosen_then_only_that_code_is_listed():
    at = run_app(BRIDGE)
    box = at.selectbox(key="code")
    codes = [o for o in box.options if o != "(all)"]
    assert codes, "the seeded grid has refused proposals"
    box.select(codes[0]).run()
    assert not at.exception
    assert set(at.dataframe[2].value["code"]) == {codes[0]}


def test_given_no_bridge_when_the_app_runs_then_it_says_so_instead_of_crashing():
    at = run_app("http://127.0.0.1:9")  # discard port: nothing listens there
    try:
        assert not at.exception
        assert any("bridge is not available" in e.value for e in at.error)
    finally:
        os.environ["GRID_BRIDGE_URL"] = BRIDGE
