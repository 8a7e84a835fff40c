"""Grid Governance, in Streamlit: a read-only view over the bridge's JSON API.

For people who prefer Streamlit to the bridge's own dashboard. It only ever GETs from the bridge
(which is itself read-only), so it cannot change the ledger. Run:

    GRID_BRIDGE_URL=http://127.0.0.1:8787 streamlit run streamlit-bridge/app.py

Amounts arrive as decimal strings and are turned into Python ints (arbitrary precision), never
floats; only derived ratios (velocity, Gini) are floats.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pandas as pd
import streamlit as st

DEFAULT_BRIDGE = os.environ.get("GRID_BRIDGE_URL", "http://127.0.0.1:8787")
TIMEOUT_S = 10
PAGE = 50


class BridgeUnavailable(Exception):
    """The bridge did not answer (not running, wrong URL) or answered with an error code."""


def get(base: str, path: str) -> dict:
    try:
        with urllib.request.urlopen(base.rstrip("/") + path, timeout=TIMEOUT_S) as res:
            return json.loads(res.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        try:
            err = json.loads(e.read().decode("utf-8"))["error"]
            raise BridgeUnavailable(f"{err['code']}: {err['message']}") from e
        except (ValueError, KeyError):
            raise BridgeUnavailable(f"HTTP {e.code} from {path}") from e
    except (urllib.error.URLError, OSError) as e:
        raise BridgeUnavailable(f"cannot reach the bridge at {base}: {e}") from e


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def balances_frame(world: dict) -> pd.DataFrame:
    """Actors × resources, exact integers; agents first, then the other kinds."""
    kinds = {a["id"]: a["kind"] for a in world["actors"]}
    resources = [r["id"] for r in world["resources"]]
    rows = []
    for actor, kind in sorted(kinds.items(), key=lambda kv: (kv[1] != "agent", kv[1], kv[0])):
        mine = world["balances"].get(actor, {})
        if not mine and kind != "agent":
            continue
        rows.append({"actor": actor, "kind": kind, **{r: int(mine.get(r, "0")) for r in resources}})
    return pd.DataFrame(rows).set_index("actor") if rows else pd.DataFrame(columns=["actor", "kind", *resources]).set_index("actor")


def ledger_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": int(r["id"]),
                "time (UTC)": when(r["at_ms"]),
                "kind": r["kind"],
                "from": r["from"] or "∅",
                "to": r["to"] or "∅",
                "amount": int(r["amount"]) if r["amount"] is not None else None,
                "resource": r["resource"] or "",
                "agent": r["agent"],
                "hash": r["hash"][:16],
            }
            for r in rows
        ]
    )


def rejection_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "id": int(r["id"]),
                "time (UTC)": when(r["at_ms"]),
                "code": r["code"],
                "agent": r["agent"],
                "asked": f"{r['from'] or ''} → {r['to'] or ''} {r['amount'] or ''} {r['resource'] or ''}".strip(),
                "message": r["message"],
            }
            for r in rows
        ]
    )


def series_frames(metrics: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Volume and velocity per resource per bucket, and the Gini series, indexed by time."""
    volume, velocity = {}, {}
    for b in metrics["buckets"]:
        t = pd.Timestamp(b["startMs"], unit="ms")
        volume[t] = {r: int(s["volume"]) for r, s in b["resources"].items()}
        velocity[t] = {r: s["velocity"] for r, s in b["resources"].items()}
    gini = {pd.Timestamp(s["t"], unit="ms"): s["values"] for s in metrics["gini_series"]}
    frame = lambda d: pd.DataFrame.from_dict(d, orient="index").sort_index().fillna(0) if d else pd.DataFrame()
    return frame(volume), frame(velocity), frame(gini)


st.set_page_config(page_title="Grid Governance", page_icon="⚡", layout="wide")
st.title("⚡ Grid Governance")
base = st.sidebar.text_input("Bridge URL", DEFAULT_BRIDGE, key="bridge_url")
st.sidebar.caption("Read-only: this app only reads the bridge's JSON API.")

try:
    health = get(base, "/api/health")
    world = get(base, "/api/world")
    metrics = get(base, "/api/metrics")
    breaker = get(base, "/api/breaker")
    verification = get(base, "/api/verification")
except BridgeUnavailable as e:
    st.error(f"The bridge is not available. {e}")
    st.info("Start it with `grid start` (it prints the bridge URL), or set GRID_BRIDGE_URL.")
    st.stop()

st.caption(f"{health['backend']} · role {health['role']} · ledger head #{health['head']['last_id']}")

if breaker["open"]:
    st.error(f"Circuit breaker OPEN — {breaker['reason']} (set by {breaker['set_by']}). Agents' proposals are refused.")
else:
    st.success(f"Circuit breaker closed ({breaker['reason']}).")

v_state = verification["state"]
v_text = f"Ledger verification: **{v_state}** — {verification['summary']}"
{"verified": st.success, "broken": st.error, "error": st.error}.get(v_state, st.warning)(v_text)

totals = metrics["totals"]
decided = totals["proposals"] + totals["rejections"]
gini_credits = metrics["gini"].get("credits", {}).get("value")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Ledger head", f"#{health['head']['last_id']}")
c2.metric("Proposals applied", totals["proposals"])
c3.metric("Rejections", totals["rejections"], f"{100 * totals['rejections'] / decided:.1f} % of decisions" if decided else None, delta_color="off", delta_arrow="off")
c4.metric("Gini · credits (agents)", f"{gini_credits:.3f}" if gini_credits is not None else "—")

st.subheader("Balances")
st.dataframe(balances_frame(world))

volume, velocity, gini = series_frames(metrics)
left, mid, right = st.columns(3)
with left:
    st.markdown("**Flows** · volume per bucket")
    st.line_chart(volume)
with mid:
    st.markdown("**Velocity** · volume ÷ average supply")
    st.line_chart(velocity)
with right:
    st.markdown("**Gini** · agents, per resource")
    st.line_chart(gini)

st.subheader("Ledger (newest first)")
ledger = get(base, f"/api/ledger?order=desc&limit={PAGE}")
st.dataframe(ledger_frame(ledger["rows"]), hide_index=True)

st.subheader("Rejections")
codes = sorted({c for b in metrics["buckets"] for c in b["rejections"]["byCode"]})
code = st.selectbox("Code", ["(all)", *codes], key="code")
path = f"/api/rejections?order=desc&limit={PAGE}" + ("" if code == "(all)" else f"&code={code}")
st.dataframe(rejection_frame(get(base, path)["rows"]), hide_index=True)
