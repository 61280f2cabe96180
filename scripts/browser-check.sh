#!/usr/bin/env bash
# Renders one self-contained HTML file in headless Chromium, saves a full-page PNG screenshot,
# and fails if the page logged a console error, threw an uncaught exception (or an unhandled
# promise rejection), opened a dialog, crashed, or asked for anything but itself and data: URIs.
# Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe) by an inline
# python3 script that uses only the standard library; no request ever leaves the browser: every
# request other than the page itself is failed before it is sent, and reported.
#
#   bash scripts/browser-check.sh HTML_FILE PNG_OUT
#
# Exit status: 0 the page is clean (PNG_OUT written); 1 the page has problems (each printed to
# stderr, PNG_OUT still written); 2 usage error or HTML_FILE unreadable; 3 the browser could not be
# run (missing: run scripts/setup-browser.sh; failed to start; crashed; timed out).
# Every console message is printed to stderr; the one-line verdict goes to stdout.
#
# Environment:
#   CHROMIUM                     browser binary (default: /usr/lib/chromium/chromium, chromium,
#                                chromium-browser, in that order)
#   BROWSER_CHECK_TIMEOUT        seconds for the whole check (default 60)
#   BROWSER_CHECK_SETTLE_MS      how long to keep listening after the load event (default 500)
#   BROWSER_CHECK_WINDOW         viewport WIDTHxHEIGHT (default 1400x2000); the PNG is the full page
#   BROWSER_CHECK_NO_SANDBOX=1   pass --no-sandbox (always passed when running as root)
set -euo pipefail

usage() {
  echo "usage: bash scripts/browser-check.sh HTML_FILE PNG_OUT" >&2
  exit 2
}

[ $# -eq 2 ] || usage
html="$1"
png="$2"
if [ ! -f "$html" ] || [ ! -r "$html" ]; then
  echo "browser-check: cannot read $html" >&2
  exit 2
fi

png_dir="$(dirname -- "$png")"
if [ ! -d "$png_dir" ] || [ ! -w "$png_dir" ]; then
  echo "browser-check: cannot write into $png_dir" >&2
  exit 2
fi

browser="${CHROMIUM:-}"
if [ -n "$browser" ] && ! command -v "$browser" >/dev/null 2>&1; then
  echo "browser-check: CHROMIUM=$browser is not an executable" >&2
  exit 3
fi
if [ -z "$browser" ]; then
  # The Debian package's /usr/bin/chromium is a shell wrapper that adds its own flags (and prints
  # shell noise on some machines); call the real binary when it is there.
  for candidate in /usr/lib/chromium/chromium chromium chromium-browser; do
    if command -v "$candidate" >/dev/null 2>&1; then
      browser="$(command -v "$candidate")"
      break
    fi
  done
fi
if [ -z "$browser" ]; then
  echo "browser-check: no chromium found; run: bash scripts/setup-browser.sh" >&2
  exit 3
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "browser-check: python3 not found; run: bash scripts/setup-browser.sh" >&2
  exit 3
fi

timeout_s="${BROWSER_CHECK_TIMEOUT:-60}"
settle_ms="${BROWSER_CHECK_SETTLE_MS:-500}"
window="${BROWSER_CHECK_WINDOW:-1400x2000}"
if ! [[ "$timeout_s" =~ ^[1-9][0-9]*$ ]]; then
  echo "browser-check: BROWSER_CHECK_TIMEOUT must be whole seconds, got '$timeout_s'" >&2
  exit 2
fi
if ! [[ "$settle_ms" =~ ^[0-9]+$ ]]; then
  echo "browser-check: BROWSER_CHECK_SETTLE_MS must be whole milliseconds, got '$settle_ms'" >&2
  exit 2
fi
if ! [[ "$window" =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]]; then
  echo "browser-check: BROWSER_CHECK_WINDOW must be WIDTHxHEIGHT, got '$window'" >&2
  exit 2
fi

no_sandbox="${BROWSER_CHECK_NO_SANDBOX:-0}"
# Chromium refuses to start as root with its sandbox on.
[ "$(id -u)" -eq 0 ] && no_sandbox=1

work="$(mktemp -d "${TMPDIR:-/tmp}/browser-check.XXXXXX")"
trap 'rm -rf -- "$work"' EXIT

cat >"$work/drive.py" <<'PY'
"""Drive headless Chromium over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-framed JSON)."""
import base64, ctypes, fcntl, json, os, pathlib, select, signal, subprocess, sys, time

browser, html, png, work, timeout_s, settle_ms, window, no_sandbox = sys.argv[1:9]
deadline = time.monotonic() + float(timeout_s)
settle = float(settle_ms) / 1000.0
width, height = (int(v) for v in window.lower().split("x"))
page_url = pathlib.Path(html).resolve().as_uri()
problems = []


class BrowserError(Exception):
    pass


def on_term(_signum, _frame):
    raise BrowserError("interrupted")


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

try:  # orphaned browser helpers are re-parented to this script, which reaps them at the end
    ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
except Exception:
    pass

to_browser_r, to_browser_w = os.pipe()
from_browser_r, from_browser_w = os.pipe()


def child_setup():
    # Move both ends out of the way first: either may already be fd 3 or 4.
    r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
    w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
    os.dup2(r, 3)
    os.dup2(w, 4)
    try:  # the browser dies with this script, however it dies (PR_SET_PDEATHSIG = 1)
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:
        pass


args = [
    browser, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--user-data-dir=" + os.path.join(work, "profile"), "--window-size=%d,%d" % (width, height),
    "--remote-debugging-pipe", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--disable-breakpad", "--metrics-recording-only", "--mute-audio",
    "--hide-scrollbars", "--password-store=basic", "--use-mock-keychain", "about:blank",
]
if no_sandbox == "1":
    args.insert(1, "--no-sandbox")
log = open(os.path.join(work, "chromium.log"), "wb")
env = dict(os.environ, HOME=work, XDG_CONFIG_HOME=work, XDG_CACHE_HOME=work)
env.pop("DBUS_SESSION_BUS_ADDRESS", None)
try:
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                            pass_fds=(3, 4), preexec_fn=child_setup, start_new_session=True)
except OSError as e:
    print("browser-check: cannot start %s: %s" % (browser, e), file=sys.stderr)
    sys.exit(3)
os.close(to_browser_r)
os.close(from_browser_w)

buf = b""
pending = []  # events read while waiting for a reply
next_id = 0


def read_message():
    global buf
    while b"\0" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BrowserError("timed out after %ss" % timeout_s)
        ready, _, _ = select.select([from_browser_r], [], [], left)
        if not ready:
            continue
        chunk = os.read(from_browser_r, 1 << 20)
        if not chunk:
            raise BrowserError("browser closed the pipe (exit status %s)" % proc.poll())
        buf += chunk
    raw, buf = buf.split(b"\0", 1)
    return json.loads(raw)


def send(method, params=None, session=None):
    global next_id
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    data = json.dumps(msg).encode() + b"\0"
    while data:
        data = data[os.write(to_browser_w, data):]
    return next_id


def call(method, params=None, session=None):
    want = send(method, params, session)
    while True:
        msg = read_message()
        if msg.get("id") == want:
            if "error" in msg:
                raise BrowserError("%s failed: %s" % (method, msg["error"].get("message")))
            return msg.get("result", {})
        handle(msg)


def allowed(url):
    return url.startswith("data:") or url.split("#", 1)[0] == page_url


def fmt_args(args_list):
    out = []
    for a in args_list:
        if "value" in a:
            v = a["value"]
            out.append(v if isinstance(v, str) else json.dumps(v))
        else:
            out.append(a.get("description") or a.get("type", "?"))
    return " ".join(out)


def where(d):
    url = d.get("url") or ""
    line = d.get("lineNumber")
    return " (%s:%s)" % (url, line + 1) if url and line is not None else (" (%s)" % url if url else "")


session = None
loaded = False
blocked = set()


def forbidden(url):
    if url not in blocked:
        blocked.add(url)
        problems.append("request blocked (the page must load nothing but itself and data: URIs): " + url)


def handle(msg):
    global loaded
    method = msg.get("method")
    p = msg.get("params", {})
    if method == "Runtime.consoleAPICalled":
        kind = p.get("type")
        frames = (p.get("stackTrace") or {}).get("callFrames") or []
        text = "console.%s: %s%s" % (kind, fmt_args(p.get("args", [])), where(frames[0]) if frames else "")
        print("browser-check: " + text, file=sys.stderr)
        if kind in ("error", "assert"):
            problems.append(text)
    elif method == "Runtime.exceptionThrown":
        d = p.get("exceptionDetails", {})
        exc = d.get("exception") or {}
        desc = exc.get("description") or d.get("text") or "?"
        text = "uncaught exception: %s%s" % (desc, "" if "\n    at " in desc else where(d))
        problems.append(text)
    elif method == "Log.entryAdded":
        e = p.get("entry", {})
        text = "browser log %s (%s): %s%s" % (e.get("level"), e.get("source"), e.get("text"), where(e))
        print("browser-check: " + text, file=sys.stderr)
        # A request this script blocked is already reported once, by URL.
        if e.get("level") == "error" and e.get("url") not in blocked:
            problems.append(text)
    elif method == "Fetch.requestPaused":
        url = p["request"]["url"]
        if allowed(url):
            send("Fetch.continueRequest", {"requestId": p["requestId"]}, session)
        else:
            forbidden(url)
            send("Fetch.failRequest", {"requestId": p["requestId"], "errorReason": "BlockedByClient"}, session)
    elif method == "Network.requestWillBeSent":
        url = p["request"]["url"]
        if not allowed(url):
            forbidden(url)
    elif method == "Network.loadingFailed":
        if not p.get("errorText", "").startswith("net::ERR_BLOCKED_BY_CLIENT"):
            problems.append("failed load: %s %s" % (p.get("type", ""), p.get("errorText")))
    elif method == "Page.javascriptDialogOpening":
        problems.append("dialog opened (%s): %s" % (p.get("type"), p.get("message")))
        send("Page.handleJavaScriptDialog", {"accept": False}, session)
    elif method in ("Inspector.targetCrashed", "Target.targetCrashed"):
        raise BrowserError("the page crashed")
    elif method == "Page.loadEventFired":
        loaded = True


def pump(until):
    """Handle events until the monotonic time `until`."""
    global buf
    while time.monotonic() < until:
        if b"\0" not in buf:
            ready, _, _ = select.select([from_browser_r], [], [], max(0.0, until - time.monotonic()))
            if not ready:
                return
        handle(read_message())


status = 0
closed = False
try:
    targets = call("Target.getTargets")["targetInfos"]
    page = next((t for t in targets if t["type"] == "page"), None)
    target_id = page["targetId"] if page else call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = call("Target.attachToTarget", {"targetId": target_id, "flatten": True})["sessionId"]
    for m in ("Runtime.enable", "Log.enable", "Network.enable", "Page.enable", "Inspector.enable"):
        call(m, None, session)
    call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session)
    call("Emulation.setDeviceMetricsOverride",
         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
    nav = call("Page.navigate", {"url": page_url}, session)
    if nav.get("errorText"):
        raise BrowserError("navigation failed: " + nav["errorText"])
    while not loaded:
        handle(read_message())
    call("Runtime.evaluate", {"expression": "document.fonts ? document.fonts.ready.then(() => 1) : 1",
                              "awaitPromise": True}, session)
    pump(time.monotonic() + settle)
    size = call("Page.getLayoutMetrics", None, session).get("cssContentSize", {})
    shot_w = max(width, int(size.get("width", width) + 0.999))
    shot_h = max(1, int(size.get("height", height) + 0.999))
    shot = call("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": shot_w, "height": shot_h, "scale": 1},
    }, session)
    pump(time.monotonic() + 0.05)
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    try:
        call("Browser.close")
        closed = True
    except BrowserError:
        pass
except Exception as e:  # any failure here is the browser's or this driver's, never the page's
    print("browser-check: browser error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
    log.flush()
    lines = open(os.path.join(work, "chromium.log"), "rb").read().decode("utf-8", "replace").splitlines()
    lines = [l for l in lines if "dbus" not in l.lower()][-20:]  # D-Bus noise: no bus in a container
    if lines:
        print("browser-check: last chromium output:\n" + "\n".join(lines), file=sys.stderr)
    status = 3
finally:
    if closed:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:  # the browser's helpers share its process group; leave none behind
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    reap_until = time.monotonic() + 3
    while time.monotonic() < reap_until:  # reap the browser and any helper re-parented here
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.02)
        except ChildProcessError:
            break

for p in problems:
    print("browser-check: FAIL: " + p, file=sys.stderr)
if status == 0:
    if problems:
        print("browser-check: %s: %d problem(s); screenshot %s" % (html, len(problems), png))
        status = 1
    else:
        print("browser-check: %s: ok; screenshot %s (%dx%d)" % (html, png, shot_w, shot_h))
sys.exit(status)
PY

# The python script enforces the deadline itself; `timeout` is the backstop if it hangs.
status=0
timeout -k 5 "$((timeout_s + 15))" python3 "$work/drive.py" "$browser" "$html" "$png" "$work" \
  "$timeout_s" "$settle_ms" "$window" "$no_sandbox" ||
  status=$?
case "$status" in
  0 | 1 | 2 | 3) exit "$status" ;;
  124 | 137) echo "browser-check: timed out" >&2; exit 3 ;;
  *) echo "browser-check: driver failed with status $status" >&2; exit 3 ;;
esac
