"""When did a Panel page's data reach the screen? Measured in the page's own clock.

:data:`TIMING_JS` runs in every page before its scripts: it wraps ``WebSocket`` (Bokeh's
server connection, which carries the document and every later patch) and stamps each
message and the animation frame painted after it with ``performance.now()`` (0 = the
start of the navigation).

:func:`data_state` reads what the page shows: every Bokeh ``ColumnDataSource`` (chart
and table data) with its row count and a checksum of its numbers, the Tabulator rows
drawn, the page's visible text (through shadow roots) and whether Panel's loading
spinner is on anywhere. :func:`wait_until` polls a condition on that state and returns
the time of the last frame painted before the condition was first seen true, after the
page stayed quiet (no message, no spinner) for ``quiet_ms``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TIMING_JS = """
(() => {
  if (window.__wb) return;
  const wb = window.__wb = {msgs: 0, lastMsg: 0, paints: []};
  const Orig = window.WebSocket;
  class Traced extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => {
        wb.msgs += 1;
        wb.lastMsg = performance.now();
        requestAnimationFrame(() => {
          wb.paints.push(performance.now());
          if (wb.paints.length > 2000) wb.paints.splice(0, 1000);
        });
      });
    }
  }
  window.WebSocket = Traced;
})();
"""

STATE_JS = """
() => {
  const sources = [];
  const docs = (window.Bokeh && window.Bokeh.documents) || [];
  for (const d of docs) for (const m of d._all_models.values()) {
    if (m.constructor.__name__ !== 'ColumnDataSource') continue;
    let rows = 0, sum = 0;
    for (const col of Object.values(m.data || {})) {
      const n = col ? (col.length || 0) : 0;
      rows = Math.max(rows, n);
      for (let i = 0; i < n && i < 5000; i++) {
        const v = col[i];
        if (typeof v === 'number' && isFinite(v)) sum += Math.abs(v);
        else if (typeof v === 'string') sum += v.length;
      }
    }
    sources.push([rows, sum]);
  }
  const text = [];
  let tabRows = 0, loading = 0;
  const walk = (n) => {
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) {
      if (c.nodeType === 3) {
        const t = c.textContent.trim();
        if (t) text.push(t);
      } else if (c.nodeType === 1 && c.tagName !== 'SCRIPT' && c.tagName !== 'STYLE') {
        if (c.classList.contains('tabulator-row')) tabRows += 1;
        if (c.classList.contains('pn-loading')) loading += 1;
        walk(c);
      }
    }
  };
  walk(document.body);
  const wb = window.__wb || {msgs: 0, lastMsg: 0, paints: []};
  return {sources, tabRows, loading, docs: docs.length, text: text.join('\\n'), msgs: wb.msgs,
          lastMsg: wb.lastMsg, now: performance.now(), paints: wb.paints.slice(-50)};
}
"""


@dataclass(frozen=True)
class PageState:
    """What the page shows at one instant (see :data:`STATE_JS`)."""

    sources: list[tuple[int, float]]
    docs: int
    tab_rows: int
    loading: int
    text: str
    msgs: int
    last_msg: float
    now: float
    paints: list[float]

    @property
    def filled_sources(self) -> int:
        """Data sources holding at least one row with a non-zero number or some text."""
        return sum(1 for rows, total in self.sources if rows > 0 and total > 0)

    @property
    def has_data(self) -> bool:
        """A chart or a table shows rows (not just a title)."""
        return self.filled_sources > 0 or self.tab_rows > 0

    def signature(self) -> tuple[Any, ...]:
        """Changes whenever a chart's or a table's data, or the visible text, changes."""
        return (tuple(self.sources), self.tab_rows, self.text)

    def paint_before(self, t: float) -> float:
        """The last frame painted at or before page time ``t`` (``t`` when none)."""
        before = [p for p in self.paints if p <= t]
        return max(before) if before else t


def data_state(page: Any) -> PageState:
    """The page's :class:`PageState` now."""
    raw = page.evaluate(STATE_JS)
    return PageState(
        sources=[(int(r), float(s)) for r, s in raw["sources"]],
        docs=int(raw["docs"]),
        tab_rows=int(raw["tabRows"]),
        loading=int(raw["loading"]),
        text=str(raw["text"]),
        msgs=int(raw["msgs"]),
        last_msg=float(raw["lastMsg"]),
        now=float(raw["now"]),
        paints=[float(p) for p in raw["paints"]],
    )


def page_now(page: Any) -> float:
    """The page's clock (``performance.now()``, ms since the navigation started)."""
    return float(page.evaluate("() => performance.now()"))


def wait_until(
    page: Any,
    ready: Callable[[PageState], bool],
    *,
    quiet_ms: float = 500.0,
    timeout_s: float = 60.0,
    poll_ms: float = 50.0,
) -> tuple[float, PageState]:
    """Wait for ``ready(state)``, then for ``quiet_ms`` without a message or a spinner.

    Nothing counts before Bokeh has rendered the page's document. Returns the page time
    of the last frame painted before ``ready`` was first seen true (an upper bound on
    when the data appeared: polls are ``poll_ms`` apart) and the final state. Raises
    :class:`TimeoutError` with the last state's text otherwise.
    """
    deadline = time.monotonic() + timeout_s
    seen_at: float | None = None
    state = data_state(page)
    while time.monotonic() < deadline:
        if seen_at is None and state.docs and not state.loading and ready(state):
            seen_at = state.paint_before(state.now)
        if seen_at is not None:
            if not ready(state) or state.loading:
                seen_at = None  # it changed again: wait for the final state
            elif state.now - state.last_msg >= quiet_ms:
                return seen_at, state
        page.wait_for_timeout(poll_ms)
        state = data_state(page)
    raise TimeoutError(
        f"page not ready after {timeout_s:.0f} s ({state.msgs} messages, "
        f"{state.loading} spinners, {state.filled_sources} filled sources, "
        f"{state.tab_rows} table rows); text: {state.text[:400]!r}"
    )


def quiet_state(page: Any, quiet_ms: float = 2500.0, timeout_s: float = 120.0) -> PageState:
    """The page's state once nothing arrived for ``quiet_ms`` and no spinner shows (the
    fully loaded page, used to learn what "loaded" looks like)."""
    return wait_until(page, lambda _s: True, quiet_ms=quiet_ms, timeout_s=timeout_s)[1]


def _policies_ready(state: PageState) -> bool:
    """The policies page is ready once its editor's text has been validated."""
    return "Valid: policy" in state.text or "candidate.yaml:" in state.text


#: How long a page must stay without an update to count as settled. The live page
#: refreshes every 5 s and on a busy machine its updates never pause (measured: ~5
#: websocket messages/s for 5 minutes), so it counts as loaded once it shows its data
#: with no spinner.
QUIET_MS = {"live": 0.0}


def quiet_ms_for(slug: str, default: float) -> float:
    """The settle window for ``/slug`` (``default`` unless the page ticks by itself)."""
    return min(default, QUIET_MS.get(slug, default))


def page_ready(slug: str) -> Callable[[PageState], bool]:
    """When ``/slug`` shows its data: a chart or table with rows (the policies page: the
    editor's validation result)."""
    if slug == "policies":
        return _policies_ready
    return lambda state: state.has_data


def loaded_state(
    page: Any, slug: str, quiet_ms: float = 1200.0, timeout_s: float = 300.0
) -> PageState:
    """The state of ``/slug`` (already navigated to) once it shows its data and then
    stayed quiet for ``quiet_ms``."""
    quiet = quiet_ms_for(slug, quiet_ms)
    return wait_until(page, page_ready(slug), quiet_ms=quiet, timeout_s=timeout_s)[1]
