"""A person at Chromium, for superset/check_dashboard.py: Debian's Chromium driven headless
through Playwright, the dashboard's charts read as drawn (their text, their ECharts instance) and
Superset's chart-data API asked as the logged-in user."""

import json
import os
import time

from check_import import EXPECTED_CHARTS

# Every chart of the dashboard, as the import check expects them.
CHARTS = sorted(EXPECTED_CHARTS)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Tall enough that every chart is in view: Superset renders charts below the fold only when
# scrolled to (dashboard virtualization).
VIEWPORT = {"width": 1600, "height": 2200}
# JavaScript: the dashboard's holder of the chart titled `title` (undefined when there is none).
CHART_HOLDER = """title => Array.from(document.querySelectorAll('.dashboard-component-chart-holder')).find(h =>
    ((h.querySelector('[data-test=editable-title]') || {}).innerText || '').trim() === title)"""
# ECharts probes (JavaScript functions of the chart's instance) for Browser.echart: every text
# drawn outside the legend, as [text, x, y, width, height] on the canvas; the value axis' ticks.
TEXT_BOXES = """chart => {
    const box = e => { const r = e.getBoundingRect().clone(); r.applyTransform(e.getComputedTransform()); return r; };
    const legend = chart.getModel().getComponent('legend');
    const skip = legend ? box(chart.getViewOfComponentModel(legend).group) : null;
    return chart.getZr().storage.getDisplayList()
      .filter(e => e.style && typeof e.style.text === 'string' && e.style.text.trim())
      .map(e => [e.style.text, box(e)])
      .filter(([, r]) => !skip || !skip.contain(r.x + r.width / 2, r.y + r.height / 2))
      .map(([text, r]) => [text, r.x, r.y, r.width, r.height]); }"""
VALUE_TICKS = """chart => { const model = chart.getModel();
    const axis = ['yAxis', 'xAxis'].map(a => model.getComponent(a, 0)).find(c => c && c.get('type') === 'value');
    return axis ? axis.axis.scale.getTicks().map(t => t.value) : null; }"""

class Browser:
    """A person at Chromium: the page, and every chart-data request the dashboard sends."""

    def __init__(self, playwright, profile, base_url):
        self.base = base_url
        self.context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, viewport=VIEWPORT
        )
        self.page = self.context.new_page()
        self.chart_requests = []
        self.page.on("request", self._record)

    def _record(self, request):
        if request.method == "POST" and "/api/v1/chart/data" in request.url and request.post_data:
            self.chart_requests.append((time.monotonic(), json.loads(request.post_data)))

    def log_in(self, user, password):
        self.page.goto(f"{self.base}/login/")
        self.page.fill("#username", user)
        self.page.fill("#password", password)
        self.page.click("[data-test=login-button]")
        self.page.wait_for_url(lambda url: "/login" not in url, timeout=60_000)

    def open_dashboard(self, currency=None):
        """The dashboard, with `currency` chosen in the Currency filter if given (the filter's
        state in the URL, as Superset's permalinks carry it)."""
        self.chart_requests.clear()
        chosen = ""
        if currency:
            chosen = (
                "?native_filters=(NATIVE_FILTER-currency:(id:NATIVE_FILTER-currency,"
                f"extraFormData:(filters:!((col:currency,op:IN,val:!({currency})))),filterState:(value:!({currency}))))"
            )
        self.page.goto(f"{self.base}/superset/dashboard/sales/{chosen}")

    def chart_text(self, title):
        """The text a person reads in a chart, as lines; table rows as lists of their cells."""
        return self.page.evaluate(
            "title => { const h = (" + CHART_HOLDER + ")(title);"
            """
                const body = h && h.querySelector('[data-test=slice-container]');
                if (!body) return null;
                const rows = Array.from(body.querySelectorAll('tbody tr')).map(tr => Array.from(tr.cells).map(td => td.innerText.trim()));
                return rows.length ? rows : body.innerText.split('\\n').map(l => l.trim()).filter(l => l); }""",
            title,
        )

    def echart(self, title, probe):
        """What `probe`, JavaScript source of a function of an ECharts instance, returns for the
        instance that draws the chart `title` (None when there is none). Superset keeps the
        instance in a React ref of the component that renders its element, so it is found by
        walking up that element's React fiber."""
        return self.page.evaluate(
            f"""title => {{
                const h = ({CHART_HOLDER})(title);
                const el = h && h.querySelector('[_echarts_instance_]');
                if (!el) return null;
                let fiber = el[Object.keys(el).find(k => k.startsWith('__reactFiber$'))];
                for (; fiber; fiber = fiber.return) {{
                  for (let hook = fiber.memoizedState; hook && typeof hook === 'object' && 'next' in hook; hook = hook.next) {{
                    const ref = hook.memoizedState;
                    if (ref && ref.current && typeof ref.current.getOption === 'function') return ({probe})(ref.current);
                  }}
                }}
                return null; }}""",
            title,
        )

    def chart_states(self):
        """Per chart title: rendered, failed or loading, from what the page shows."""
        return self.page.evaluate(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('.dashboard-component-chart-holder')).map(h => {
                const title = (h.querySelector('[data-test=editable-title]') || {}).innerText || '';
                const body = h.querySelector('[data-test=slice-container]');
                let state = 'loading';
                // A Handlebars chart shows a template's error in a <pre> instead of its output.
                if ((h.querySelector('.ant-alert-error, [role=alert]') && /error/i.test(h.innerText)) ||
                    (body && body.querySelector('.handlebars pre'))) state = 'failed';
                else if (body && !h.querySelector('[data-test=loading-indicator], .loading') &&
                         (body.querySelector('canvas, svg, table') || /\\d/.test(body.innerText))) state = 'rendered';
                return [title.trim(), state];
            }))"""
        )

    def wait_rendered(self, timeout=120):
        deadline = time.monotonic() + timeout
        states = {}
        while time.monotonic() < deadline:
            states = self.chart_states()
            if set(CHARTS) <= set(states) and all(states[c] == "rendered" for c in CHARTS):
                # Let the charts' animations finish before anyone looks.
                self.page.wait_for_timeout(1500)
                return states
            if any(s == "failed" for s in states.values()):
                return states
            self.page.wait_for_timeout(500)
        return states

    def scroll_bars(self):
        """Elements inside charts whose content overflows a scrollable box: a visible scroll bar."""
        return self.page.evaluate(
            """() => { const found = [];
                document.querySelectorAll('.dashboard-component-chart-holder').forEach(h => {
                  const title = ((h.querySelector('[data-test=editable-title]') || {}).innerText || '').trim();
                  [h, ...h.querySelectorAll('*')].forEach(e => {
                    const s = getComputedStyle(e);
                    const y = ['auto', 'scroll'].includes(s.overflowY) && e.scrollHeight > e.clientHeight + 1;
                    const x = ['auto', 'scroll'].includes(s.overflowX) && e.scrollWidth > e.clientWidth + 1;
                    if (x || y) found.push(title);
                  });
                });
                return [...new Set(found)]; }"""
        )

    def csrf_token(self):
        return self.page.evaluate("() => fetch('/api/v1/security/csrf_token/').then(r => r.json()).then(j => j.result)")

    def chart_data(self, body, csrf):
        """POST a chart-data query as the logged-in user: the browser's cookies and CSRF token."""
        response = self.context.request.post(
            f"{self.base}/api/v1/chart/data",
            data=json.dumps(body),
            headers={"Content-Type": "application/json", "X-CSRFToken": csrf, "Referer": f"{self.base}/superset/dashboard/sales/"},
        )
        return response.status, (response.json() if response.ok else response.text())

    def close(self):
        self.context.close()


def overlap(a, b, gap=3.0):
    """Whether two [text, x, y, width, height] boxes run into each other: they share more than a
    pixel of height and stand less than `gap` px apart side by side (or cover each other)."""
    return (
        min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) > -gap
        and min(a[2] + a[4], b[2] + b[4]) - max(a[2], b[2]) > 1.0
    )


def slice_names(browser):
    """chart id -> chart name, from Superset's chart list as the logged-in user sees it."""
    query = "(columns:!(id,slice_name),page_size:100)"
    response = browser.context.request.get(f"{browser.base}/api/v1/chart/?q={query}")
    return {c["id"]: c["slice_name"] for c in response.json()["result"]}


def latest_bodies(requests, names, since=0.0):
    """The last chart-data body each chart sent after `since` (filter-value queries have no chart)."""
    bodies = {}
    for at, body in requests:
        chart = body.get("form_data", {}).get("slice_id")
        if at >= since and chart in names:
            bodies[names[chart]] = body
    return bodies
