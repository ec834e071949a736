// The search box of the offline documentation site (tools/build_docs.py copies this file to search.js).
// The index is search_index.js, a script that defines window.SEARCH_INDEX (loaded before this one): no fetch, so
// the search works from file:// as well as over http. Each entry: t (title), u (url from the site root),
// k ("api", "section" or "page"), p (where: module or page title), x (the first words of its text).
(function () {
  "use strict";
  var me = document.currentScript, root = (me && me.dataset.root) || "";
  var MAX = 20;

  function score(e, q, terms) {
    var t = e.t.toLowerCase(), hay = (e.t + " " + e.p + " " + e.x).toLowerCase(), s = 0;
    for (var i = 0; i < terms.length; i++) if (hay.indexOf(terms[i]) < 0) return 0;  // every word must occur
    var last = t.split(".").pop();
    if (t === q || last === q) s += 100;
    else if (t.indexOf(q) === 0 || last.indexOf(q) === 0) s += 50;
    else if (t.indexOf(q) >= 0) s += 25;
    for (var j = 0; j < terms.length; j++) if (t.indexOf(terms[j]) >= 0) s += 5;
    s += e.k === "api" ? 3 : e.k === "page" ? 2 : 1;
    return s - Math.min(t.length, 60) / 100;  // the shorter of two equal matches first
  }

  function search(query) {
    var q = query.trim().toLowerCase(), terms = q.split(/\s+/).filter(Boolean), hits = [];
    if (!q) return hits;
    var idx = window.SEARCH_INDEX || [];
    for (var i = 0; i < idx.length; i++) {
      var s = score(idx[i], q, terms);
      if (s > 0) hits.push([s, idx[i]]);
    }
    hits.sort(function (a, b) { return b[0] - a[0]; });
    return hits.slice(0, MAX).map(function (h) { return h[1]; });
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text) n.textContent = text;
    return n;
  }

  function show(box, input) {
    var hits = search(input.value);
    box.textContent = "";
    if (!input.value.trim()) { box.hidden = true; return; }
    if (!hits.length) box.appendChild(el("div", "search-none", "No results for “" + input.value.trim() + "”"));
    hits.forEach(function (e) {
      var a = el("a", "search-hit search-" + e.k);
      a.href = root + e.u;
      a.appendChild(el(e.k === "api" ? "code" : "span", "search-title", e.t));
      a.appendChild(el("span", "search-where", e.p));
      if (e.x) a.appendChild(el("span", "search-text", e.x.length > 140 ? e.x.slice(0, 140) + "…" : e.x));
      box.appendChild(a);
    });
    box.hidden = false;
  }

  function init() {
    var input = document.getElementById("search-input"), box = document.getElementById("search-results");
    if (!input || !box) return;
    input.addEventListener("input", function () { show(box, input); });
    input.addEventListener("focus", function () { if (input.value.trim()) show(box, input); });
    input.addEventListener("keydown", function (ev) {
      var links = box.querySelectorAll("a");
      if (ev.key === "Enter" && links.length) { ev.preventDefault(); window.location.href = links[0].href; }
      else if (ev.key === "ArrowDown" && links.length) { ev.preventDefault(); links[0].focus(); }
      else if (ev.key === "Escape") { box.hidden = true; input.blur(); }
    });
    box.addEventListener("keydown", function (ev) {
      var links = Array.prototype.slice.call(box.querySelectorAll("a")), i = links.indexOf(document.activeElement);
      if (ev.key === "ArrowDown" && i + 1 < links.length) { ev.preventDefault(); links[i + 1].focus(); }
      else if (ev.key === "ArrowUp") { ev.preventDefault(); (i > 0 ? links[i - 1] : input).focus(); }
      else if (ev.key === "Escape") { box.hidden = true; input.focus(); }
    });
    document.addEventListener("click", function (ev) {
      if (!ev.target.closest || !ev.target.closest(".search")) box.hidden = true;
    });
    document.addEventListener("keydown", function (ev) {  // "/" focuses the search box, as on many doc sites
      if (ev.key === "/" && document.activeElement !== input && !/input|textarea/i.test(document.activeElement.tagName)) {
        ev.preventDefault(); input.focus();
      }
    });
  }

  window.siteSearch = search;  // for the browser check (tools/check_site.py)
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
