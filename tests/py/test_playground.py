"""The playground page (GET /) in a real headless browser.

Starts the daemon from $UNPOOLD_BIN (default build/unpoold) on a free port
and Debian's Chromium through Selenium, with chromedriver given explicitly
(/usr/bin/chromedriver, or $CHROMEDRIVER) so Selenium Manager never tries to
download one, and a fresh profile in a temp dir. Then: the page and its
Content-Security-Policy, the op list and the param forms generated from
GET /v1/ops, max_unpool on the article's example (reads the rendered output
cells), the "copy as curl" command run with curl, NaN/Infinity values, the
pool-then-unpool chain, a problem+json error shown next to the field it
names, no console errors (a CSP violation would be one), and a screenshot
into the output folder ($TEST_OUTPUT_DIR, default build/test-output); with
UNPOOLD_UPDATE_SCREENSHOT=1 it also refreshes docs/playground.png for the
README (off by default, so a test run leaves the tree clean).

Prints "ok   name" / "FAIL name" per check and ends with "N passed, N
failed". Missing Selenium, Chromium or chromedriver is a failure, not a
skip. Run with the CI virtual environment's interpreter:

    UNPOOLD_BIN=build/unpoold <venv>/bin/python3 tests/py/test_playground.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import ROOT, check, finish, record, start_daemon_or_finish  # noqa: E402



def need(cond, what=""):
    if not cond:
        raise AssertionError(str(what)[:600])


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:
    record("import_selenium", False, e)
    finish()


# ---- daemon and browser ------------------------------------------------------

def start_browser(profile):
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver"
    need(os.path.exists(chromium), "no Chromium at %s (apt-get install chromium)" % chromium)
    need(os.path.exists(driver_path),
         "no chromedriver at %s (apt-get install chromium-driver)" % driver_path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
              "--window-size=1400,1000", "--user-data-dir=" + profile):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)


# ---- page helpers ---------------------------------------------------------------

def wait(drv, fn, what, timeout=10):
    try:
        return WebDriverWait(drv, timeout, poll_frequency=0.05).until(lambda d: fn(d))
    except Exception:
        raise AssertionError("timed out waiting for " + what)


def pick_op(drv, name):
    Select(drv.find_element(By.ID, "op")).select_by_value(name)
    wait(drv, lambda d: d.execute_script("return op && op.name") == name, "op " + name)


def cells(drv, scope, name):
    return drv.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' [data-map=\"' + arguments[1] +"
        " '\"] .hm div')].map(e => e.dataset.v)", scope, name)


def run_and_wait(drv):
    """Click Run; return when the answer (result or problem) is rendered."""
    drv.execute_script("document.getElementById('maps').replaceChildren();"
                       "document.getElementById('problem').hidden = true;")
    drv.find_element(By.ID, "run").click()
    wait(drv, lambda d: d.execute_script(
        "return document.querySelector('#maps .map') || !document.getElementById('problem').hidden"),
        "the answer to Run")


def set_param(drv, name, value):
    e = drv.find_element(By.ID, "p-" + name)
    e.clear()
    e.send_keys(value)


def set_grid_json(drv, name, value):
    """Paste JSON into an input's editor, then switch back to the grid."""
    box = drv.find_element(By.CSS_SELECTOR, '[data-input="%s"]' % name)
    toggle = box.find_element(By.XPATH, ".//button[text()='paste JSON']")
    toggle.click()
    area = box.find_element(By.TAG_NAME, "textarea")
    area.clear()
    area.send_keys(json.dumps(value))
    box.find_element(By.XPATH, ".//button[text()='grid']").click()


def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.headers, r.read()


# ---- checks ---------------------------------------------------------------------------

def run_checks(drv, base, out_dir):
    ops_doc = json.loads(http_get(base + "/v1/ops")[2])["ops"]

    def page_served():
        status, h, body = http_get(base + "/")
        need(status == 200, status)
        need(h["Content-Type"] == "text/html; charset=utf-8", h["Content-Type"])
        csp = h.get("Content-Security-Policy", "")
        need("default-src 'none'" in csp and "connect-src 'self'" in csp, csp)
        need("unsafe-inline" not in csp and "http" not in csp and "*" not in csp, csp)
        text = body.decode()
        with open(os.path.join(ROOT, "server", "playground.html"), encoding="utf-8") as f:
            need(text == f.read(), "GET / is not server/playground.html")
        need(len(body) < 64 * 1024, "page is %d bytes" % len(body))
        for bad in ("src=\"http", "href=\"http", "src='http", "href='http", "@import", "url("):
            need(bad not in text, "external reference: " + bad)

    def page_loads_op_list():
        drv.get(base + "/")
        wait(drv, lambda d: d.execute_script("return document.body.dataset.ready === '1'"),
             "the page to load GET /v1/ops")
        names = [o.get_attribute("value") for o in drv.find_elements(By.CSS_SELECTOR, "#op option")]
        need(names == [o["name"] for o in ops_doc], names)

    def param_forms_from_ops():
        for o in ops_doc:
            pick_op(drv, o["name"])
            for p in o["params"]:
                e = drv.find_elements(By.ID, "p-" + p["name"])
                need(len(e) == 1, "%s: no field for param %s" % (o["name"], p["name"]))
                if p.get("choices"):
                    opts = [x.get_attribute("value") for x in e[0].find_elements(By.TAG_NAME, "option")]
                    need(opts == p["choices"], (o["name"], p["name"], opts))
            inputs = [e.get_attribute("data-input")
                      for e in drv.find_elements(By.CSS_SELECTOR, "#inputs [data-input]")]
            need(inputs == [i["name"] for i in o["inputs"]], (o["name"], inputs))

    def max_unpool_article_example():
        pick_op(drv, "max_unpool")
        drv.find_element(By.ID, "example").click()
        run_and_wait(drv)
        need(drv.find_element(By.ID, "problem").get_attribute("hidden"),
             drv.find_element(By.ID, "problem").text)
        need(cells(drv, "#maps", "y") == ["0", "0", "0", "4"], cells(drv, "#maps", "y"))
        need(cells(drv, "#maps", "x") == ["4"], cells(drv, "#maps", "x"))
        need(cells(drv, "#maps", "indices") == ["3"], cells(drv, "#maps", "indices"))
        shape = drv.find_element(By.ID, "shape").text
        need("y: [1, 1, 2, 2]" in shape, shape)
        for k in ("decode_ms", "queue_ms", "compute_ms", "encode_ms", "total_ms"):
            t = drv.find_element(By.CSS_SELECTOR, '[data-timing="%s"]' % k).text
            need(t.endswith(" ms") and float(t[:-3]) >= 0, (k, t))
        hover = drv.execute_script(
            "return document.querySelector('#maps [data-map=\"y\"] .hm div:last-child').title")
        need(hover == "y[0, 0, 1, 1] = 4", hover)

    def every_op_example_runs():
        # the "example" button of every op answers 200, so no op opens on a 422
        for o in ops_doc:
            pick_op(drv, o["name"])
            drv.find_element(By.ID, "example").click()
            run_and_wait(drv)
            prob = drv.find_element(By.ID, "problem")
            need(prob.get_attribute("hidden"), "%s: %s" % (o["name"], prob.text))
            need(drv.find_elements(By.CSS_SELECTOR, "#maps .map"), o["name"] + ": no result")

    def resize_example_is_linear_x2():
        pick_op(drv, "resize")
        drv.find_element(By.ID, "example").click()
        run_and_wait(drv)
        shape = drv.find_element(By.ID, "shape").text
        need("y: [1, 1, 8, 8]" in shape, shape)
        # half_pixel x2: each output is 0.25/0.75 of two neighbours, edges clamp
        need(cells(drv, "#maps", "y")[:8] == ["0", "0.25", "0.75", "1.25", "1.75", "2.25", "2.75", "3"],
             cells(drv, "#maps", "y")[:8])

    def copy_as_curl_reproduces():
        cmd = drv.find_element(By.ID, "curl").get_attribute("value")
        need(cmd.startswith("curl -s '%s/v1/ops/max_unpool'" % base), cmd)
        out = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=10, check=True).stdout
        y = json.loads(out)["outputs"]["y"]
        need(y["shape"] == [1, 1, 2, 2] and y["data"] == [0, 0, 0, 4], y)

    def nan_and_infinity():
        pick_op(drv, "nearest_unpool")
        set_grid_json(drv, "x", [["NaN", "Infinity"], [1, "-inf"]])
        set_param(drv, "scale_factor", "2")
        run_and_wait(drv)
        got = cells(drv, "#maps", "y")
        need(got[:4] == ["NaN", "NaN", "∞", "∞"] and got[-1] == "-∞", got)

    def pool_then_unpool():
        pick_op(drv, "max_pool")
        x = [[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 6, 7], [9, 1, 3, 3]]
        set_grid_json(drv, "x", x)
        drv.find_element(By.ID, "chain").click()
        wait(drv, lambda d: cells(d, "#chainmaps", "unpooled"), "the chain's round trip")
        need(cells(drv, "#chainmaps", "pooled") == ["5", "8", "9", "7"], cells(drv, "#chainmaps", "pooled"))
        need(cells(drv, "#chainmaps", "indices") == ["1", "6", "12", "11"],
             cells(drv, "#chainmaps", "indices"))
        want = [str(v) if v in (5, 8, 9, 7) else "0" for row in x for v in row]
        need(cells(drv, "#chainmaps", "unpooled") == want, cells(drv, "#chainmaps", "unpooled"))
        curl = drv.find_element(By.ID, "curl").get_attribute("value").splitlines()
        need(len(curl) == 2 and "/v1/ops/max_pool'" in curl[0] and "/v1/ops/max_unpool'" in curl[1], curl)

    def error_next_to_field():
        pick_op(drv, "max_unpool")
        drv.find_element(By.ID, "example").click()
        set_param(drv, "kernel_size", "0")
        run_and_wait(drv)
        prob = drv.find_element(By.ID, "problem")
        need(prob.is_displayed() and "422" in prob.text, prob.text)
        row = drv.find_element(By.CSS_SELECTOR, '[data-field="params.kernel_size"]')
        msg = row.find_element(By.CLASS_NAME, "err").text
        need(">= 1" in msg and "bad" in row.get_attribute("class"), msg)
        # an error in an input lands next to that input
        drv.find_element(By.ID, "example").click()
        set_grid_json(drv, "indices", [[9]])
        run_and_wait(drv)
        box = drv.find_element(By.CSS_SELECTOR, '[data-field="inputs.indices"]')
        msg = box.find_element(By.CLASS_NAME, "err").text
        need("value 9" in msg, msg)
        need(drv.find_element(By.CSS_SELECTOR, '[data-field="params.kernel_size"] .err').text == "",
             "the previous error was not cleared")

    def failed_run_marks_result_stale():
        pick_op(drv, "max_unpool")
        drv.find_element(By.ID, "example").click()
        run_and_wait(drv)
        result = drv.find_element(By.ID, "result")
        need("stale" not in result.get_attribute("class"), "stale after a good run")
        set_param(drv, "kernel_size", "0")
        drv.find_element(By.ID, "run").click()
        wait(drv, lambda d: d.find_element(By.ID, "problem").is_displayed(), "the 422")
        need("stale" in result.get_attribute("class"), result.get_attribute("class"))
        note = drv.find_element(By.ID, "stale")
        need(note.is_displayed() and "failed" in note.text, note.text)
        drv.find_element(By.ID, "example").click()
        run_and_wait(drv)
        need("stale" not in result.get_attribute("class") and not note.is_displayed(),
             "still stale after a good run")

    def switching_ops_clears_result():
        pick_op(drv, "max_unpool")
        drv.find_element(By.ID, "example").click()
        run_and_wait(drv)
        need(drv.find_elements(By.CSS_SELECTOR, "#maps .map"), "no result to clear")
        pick_op(drv, "nearest_unpool")
        left = drv.execute_script(
            "return [document.querySelectorAll('#maps .map').length,"
            " document.getElementById('shape').textContent,"
            " document.getElementById('timing').textContent,"
            " document.getElementById('curl').value]")
        need(left == [0, "", "", ""], left)

    def legends_fit_their_boxes():
        # every op's input legends, at the page's width and at a narrow one
        for width in (1400, 700):
            drv.set_window_size(width, 1000)
            for name in [o.get_attribute("value")
                         for o in drv.find_elements(By.CSS_SELECTOR, "#op option")]:
                pick_op(drv, name)
                bad = drv.execute_script(
                    "return [...document.querySelectorAll('#inputs fieldset')].filter(f => {"
                    " const l = f.querySelector('legend'), lb = l.getBoundingClientRect(),"
                    " fb = f.getBoundingClientRect();"
                    " return lb.right > fb.right || lb.height > 1.5 * parseFloat("
                    "  getComputedStyle(l).lineHeight || 20) || l.scrollWidth > l.clientWidth + 1"
                    "  && !l.title; }).map(f => f.dataset.input)")
                need(not bad, "%s at %d px: %s" % (name, width, bad))
        drv.set_window_size(1400, 1000)

    def no_console_errors():
        logs = [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"
                and "/v1/ops/" not in e.get("message", "")]  # the 422s provoked above
        need(not logs, logs)

    def screenshot():
        # the state the README shows: the article's max_unpool and a round trip
        pick_op(drv, "max_unpool")
        drv.find_element(By.ID, "example").click()
        run_and_wait(drv)
        drv.execute_script("document.querySelector('#maps [data-map=\"y\"] .hm div:last-child')"
                           ".dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))")
        # grow the window until the whole page is in the viewport
        for _ in range(3):
            h, inner, outer = drv.execute_script(
                "return [document.documentElement.scrollHeight, innerHeight, outerHeight]")
            if inner >= h:
                break
            drv.set_window_size(1400, min(h + (outer - inner) + 8, 3000))
        os.makedirs(out_dir, exist_ok=True)
        path = os.path.join(out_dir, "playground.png")
        need(drv.save_screenshot(path), "screenshot failed")
        need(os.path.getsize(path) > 10000, "screenshot is %d bytes" % os.path.getsize(path))
        if os.environ.get("UNPOOLD_UPDATE_SCREENSHOT") == "1":
            docs = os.path.join(ROOT, "docs")
            os.makedirs(docs, exist_ok=True)
            shutil.copyfile(path, os.path.join(docs, "playground.png"))
        print("    screenshot: " + path)

    for name, fn in [("page_served_with_csp", page_served), ("page_loads_op_list", page_loads_op_list),
                     ("param_forms_from_ops", param_forms_from_ops),
                     ("max_unpool_article_example", max_unpool_article_example),
                     ("copy_as_curl_reproduces", copy_as_curl_reproduces),
                     ("every_op_example_runs", every_op_example_runs),
                     ("resize_example_is_linear_x2", resize_example_is_linear_x2),
                     ("nan_and_infinity", nan_and_infinity), ("pool_then_unpool", pool_then_unpool),
                     ("error_next_to_field", error_next_to_field),
                     ("failed_run_marks_result_stale", failed_run_marks_result_stale),
                     ("switching_ops_clears_result", switching_ops_clears_result),
                     ("legends_fit_their_boxes", legends_fit_their_boxes),
                     ("no_console_errors", no_console_errors), ("screenshot", screenshot)]:
        check(name, fn)


def main():
    out_dir = os.environ.get("TEST_OUTPUT_DIR", os.path.join(ROOT, "build", "test-output"))
    proc, port, log = start_daemon_or_finish()
    base = "http://127.0.0.1:%d" % port
    profile = tempfile.mkdtemp(prefix="unpoold-chromium-")
    drv = None
    try:
        try:
            drv = start_browser(profile)
            record("start_browser", True)
        except Exception as e:
            record("start_browser", False, "%s: %s" % (type(e).__name__, e))
        if drv:
            run_checks(drv, base, out_dir)
    finally:
        if drv:
            drv.quit()
        shutil.rmtree(profile, ignore_errors=True)
        harness.stop_and_check(proc, log)
    finish()


if __name__ == "__main__":
    main()
