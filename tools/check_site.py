"""Check the offline documentation site in a real browser (headless Chromium through selenium).

Builds the site with tools/build_docs.py (or takes --site DIR), serves it on 127.0.0.1 from a thread, and on each
checked page (index, losses, inversion, demo by default), in a 1400x900 window:

- MathJax typeset the formulas: `mjx-container` elements present, no TeX error (`mjx-merror`), and no raw `$$` or
  TeX command (`\\frac{`, `\\mathcal{`, ...) left in the text outside code;
- every image loaded (`naturalWidth > 0`);
- every internal link answers (HTTP 200) and its `#anchor` exists on the target page;
- no code block whose lines are at most 110 characters scrolls sideways (the column fits an exported line);
- screenshots: the first screen of each page, the screen around its first formula and around its widest code block;

and on the index: typing `invert` into the search box lists inversion.html#invert first (over http and from
file://), and the result leads there. Needs chromium, chromedriver (Debian: `apt-get install chromium
chromium-driver`) and selenium; exits 1 on a failed check, 2 when the browser is missing.

    python tools/check_site.py                           # build into a temporary folder, then check
    python tools/check_site.py --site /tmp/site --shots /tmp/shots
"""
from __future__ import annotations
import argparse, functools, http.server, re, shutil, subprocess, sys, tempfile, threading, time, urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("index", "losses", "inversion", "demo")
CODE_LINE = 110  # exported lines are at most this long (tools/code_metrics.py): such a block must not scroll

def browser_paths() -> tuple[str | None, str | None]:
    "The Chromium and chromedriver executables on PATH (Debian names first)."
    chrome = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    return chrome, shutil.which("chromedriver")

def missing() -> list[str]:
    "What the check needs and this machine lacks."
    chrome, driver = browser_paths()
    res = [] if chrome else ["chromium"]
    if not driver: res.append("chromedriver")
    try: import selenium  # noqa: F401
    except ImportError: res.append("selenium")
    return res

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

def serve(site: Path):
    "An http server of `site` on 127.0.0.1 (a free port), in a daemon thread: (server, base url)."
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/"

def driver(width: int, height: int):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chrome, drv = browser_paths()
    o = webdriver.ChromeOptions()
    o.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
              "--allow-file-access-from-files"):
        o.add_argument(a)
    d = webdriver.Chrome(options=o, service=Service(executable_path=drv))
    d.set_window_size(width, height)
    d.set_script_timeout(120)
    return d

WAIT_MATHJAX = """
const done = arguments[arguments.length - 1];
const t0 = Date.now();
(function wait() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) MathJax.startup.promise.then(() => done('ok'), e => done('error: ' + e));
  else if (Date.now() - t0 > 60000) done('MathJax did not load');
  else setTimeout(wait, 100);
})();"""

PAGE_FACTS = """
const text = (() => {  // the page's text outside code, scripts, typeset maths and the search box
  const b = document.body.cloneNode(true);
  b.querySelectorAll('pre, code, script, style, mjx-container, .search, .doc-signature').forEach(e => e.remove());
  return b.textContent;
})();
const longest = pre => Math.max(0, ...pre.textContent.split('\\n').map(l => l.length));
const blocks = [...document.querySelectorAll('.highlight pre, pre.doc-signature')];
const over = blocks.filter(p => p.scrollWidth > p.clientWidth + 1);
return {
  math: document.querySelectorAll('mjx-container').length,
  merror: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent).slice(0, 5),
  rawtex: (text.match(/\\$\\$|\\\\(frac|mathcal|operatorname|mathbb|sum|log|sqrt)\\b/g) || []).slice(0, 5),
  images: document.images.length,
  broken: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src.slice(0, 80)),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  blocks: blocks.length,
  fitting_over: over.filter(p => longest(p) <= %d).map(p => [longest(p), p.scrollWidth, p.clientWidth, p.textContent.slice(0, 60)]),
  long_over: over.filter(p => longest(p) > %d).length,
  column: document.querySelector('main.content').clientWidth,
  code_font: blocks.length ? getComputedStyle(blocks[0]).fontSize : null,
};""" % (CODE_LINE, CODE_LINE)

def wait_loaded(d, timeout=60):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if d.execute_script("return document.readyState === 'complete' && [...document.images].every(i => i.complete)"): return
        time.sleep(0.1)

def shot_at(d, path: Path, js_elem: str):
    "A screenshot of the window scrolled to the element `js_elem` (a JS expression), if there is one."
    if d.execute_script(f"const e = {js_elem}; if (!e) return false; e.scrollIntoView({{block: 'center'}}); return true;"):
        time.sleep(0.2)
        d.save_screenshot(str(path))
        return True
    return False

def check_links(links: list[str], base: str, cache: dict) -> list[str]:
    "Internal links (under `base`) that do not answer 200, or whose #anchor is missing on the target."
    bad = []
    for url in sorted(set(l for l in links if l.startswith(base))):
        page, frag = urldefrag(url)
        if page not in cache:
            try:
                with urllib.request.urlopen(page, timeout=30) as r: cache[page] = (r.status, r.read().decode("utf-8", "replace"))
            except Exception as e: cache[page] = (getattr(e, "code", str(e)), "")
        status, body = cache[page]
        if status != 200:
            bad.append(f"{url}: {status}")
            continue
        if frag and urlsplit(page).path.endswith((".html", "/")) and not re.search(
                r'\b(id|name)="%s"' % re.escape(frag), body):
            bad.append(f"{url}: no anchor #{frag}")
    return bad

def check_search(d, url: str, shots: Path | None, name: str) -> list[str]:
    "Type `invert` into the search box of `url`: the first result must link to inversion.html#invert, and lead there."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    d.get(url)
    wait_loaded(d)
    box = d.find_element(By.ID, "search-input")
    box.click()
    box.send_keys("invert")
    try: WebDriverWait(d, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results a"))
    except Exception: return [f"{name}: typing `invert` shows no result"]
    hits = d.find_elements(By.CSS_SELECTOR, "#search-results a")
    hrefs = [h.get_attribute("href") for h in hits]
    print(f"  search ({name}): {len(hits)} results for `invert`; first: {', '.join(urlsplit(h).path.split('/')[-1] + '#' + urlsplit(h).fragment for h in hrefs[:4])}")
    if shots: d.save_screenshot(str(shots/f"search-{name}.png"))
    if not hrefs[0].endswith("inversion.html#invert"): return [f"{name}: the first result for `invert` is {hrefs[0]}"]
    hits[0].click()
    try: WebDriverWait(d, 10).until(lambda d: d.current_url.endswith("inversion.html#invert"))
    except Exception: return [f"{name}: clicking the result leads to {d.current_url}"]
    if not d.find_elements(By.ID, "invert"): return [f"{name}: inversion.html has no element #invert"]
    return []

def check(site: Path, shots: Path | None, pages=PAGES, width=1400, height=900) -> list[str]:
    "Run every check; the failures, one line each (also printed as it goes)."
    srv, base = serve(site)
    d, fails, cache = driver(width, height), [], {}
    try:
        for p in pages:
            url = base + f"{p}.html"
            t0 = time.time()
            d.get(url)
            wait_loaded(d)
            mj = d.execute_async_script(WAIT_MATHJAX)
            f = d.execute_script(PAGE_FACTS)
            bad_links = check_links(f["links"], base, cache)
            print(f"{p}.html: {f['math']} formulas typeset ({mj}), {f['images']} images, {len(set(f['links']))} links, "
                  f"{f['blocks']} code blocks in a {f['column']} px column (code {f['code_font']}): "
                  f"{len(f['fitting_over'])} of <= {CODE_LINE} characters scroll, {f['long_over']} longer ones do "
                  f"({time.time() - t0:.1f} s)")
            src = (site/f"{p}.html").read_text(encoding="utf-8")
            if mj != "ok": fails.append(f"{p}.html: MathJax: {mj}")
            if "$" in re.sub(r"<(pre|code|script)\b.*?</\1>", "", src, flags=re.S) and not f["math"]:
                fails.append(f"{p}.html: no formula typeset (no mjx-container)")
            if f["merror"]: fails.append(f"{p}.html: TeX errors: {f['merror']}")
            if f["rawtex"]: fails.append(f"{p}.html: raw TeX left in the text: {f['rawtex']}")
            if f["broken"]: fails.append(f"{p}.html: images that did not load: {f['broken']}")
            fails += [f"{p}.html: link {b}" for b in bad_links]
            fails += [f"{p}.html: a code block of {n} characters a line scrolls ({sw} > {cw} px): {t!r}"
                      for n, sw, cw, t in f["fitting_over"]]
            if shots:
                d.execute_script("window.scrollTo(0, 0)")
                time.sleep(0.2)
                d.save_screenshot(str(shots/f"{p}.png"))
                shot_at(d, shots/f"{p}-math.png", "document.querySelector('main mjx-container[display]') || document.querySelector('main mjx-container')")
                shot_at(d, shots/f"{p}-code.png", "[...document.querySelectorAll('.highlight pre')].sort((a, b) => "
                        "Math.max(...b.textContent.split('\\n').map(l => l.length)) - Math.max(...a.textContent.split('\\n').map(l => l.length)))"
                        ".find(p => Math.max(...p.textContent.split('\\n').map(l => l.length)) <= %d)" % CODE_LINE)
        fails += check_search(d, base + "index.html", shots, "http")
        fails += check_search(d, (site/"index.html").resolve().as_uri(), shots, "file")
    finally:
        d.quit()
        srv.shutdown()
    return fails

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--site", help="a built site (default: build one into a temporary folder)")
    ap.add_argument("--shots", help="folder for the screenshots (default: none taken)")
    ap.add_argument("--pages", nargs="+", default=list(PAGES), help="pages to check, without .html")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    a = ap.parse_args(argv)
    if (m := missing()):
        print(f"check_site: needs {', '.join(m)} (apt-get install chromium chromium-driver; pip install selenium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(a.site) if a.site else Path(tmp)/"site"
        if not a.site:
            r = subprocess.run([sys.executable, str(ROOT/"tools"/"build_docs.py"), "--out", str(site), "-q"], cwd=ROOT)
            if r.returncode:
                print("check_site: the site build failed", file=sys.stderr)
                return 1
        shots = Path(a.shots) if a.shots else None
        if shots: shots.mkdir(parents=True, exist_ok=True)
        fails = check(site, shots, a.pages, a.width, a.height)
    for f in fails: print("FAIL:", f)
    print(f"check_site: {len(fails)} failure(s)" + (f"; screenshots in {shots}" if shots else ""))
    return 1 if fails else 0

if __name__ == "__main__": sys.exit(main())
