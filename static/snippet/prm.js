/* PRM tracking snippet. Served as `<this file>(CONFIG_JSON);` so it must stay a
   single function expression: no trailing semicolon or invocation here. */
(function (cfg) {
  'use strict';
  var w = window, d, n, L, S, ttl, end, ID = /^[A-Za-z0-9_-]+$/, TXT = 'text/plain';

  function now() { return Math.floor(new Date().getTime() / 1000); }
  function cut(s, max) { return String(s == null ? '' : s).slice(0, max); }
  function safe(fn, a, b) { try { fn(a, b); } catch (e) {} }
  function noop() {}
  function dec(s) { try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch (e) { return ''; } }

  // Value of `name` in "?a=1&b=2", "#b=2" or "#/x?b=2"; null when absent.
  function param(str, name) {
    var p = String(str || '').split(/[?&#]/), i, j;
    for (i = 0; i < p.length; i++) {
      j = p[i].indexOf('=');
      if (j > 0 && dec(p[i].slice(0, j)) === name) return dec(p[i].slice(j + 1));
    }
    return null;
  }
  function url(name) {
    var v = param(L.search, name);
    return v == null ? param(L.hash, name) : v;
  }
  function valid(s, min, max) {
    s = String(s == null ? '' : s).replace(/^\s+|\s+$/g, '');
    return s.length >= min && s.length <= max && ID.test(s) ? s : '';
  }
  // current unexpired code, or null
  function code() { return S.c && S.t + ttl >= now() ? S.c : null; }

  // ---- cookie: _prm = encodeURIComponent("v=..&c=..&t=..") ---------------
  function readCookie() {
    try { var m = /(?:^|;\s*)_prm=([^;]*)/.exec(d.cookie || ''); } catch (e) {} // may be blocked
    return m ? dec(m[1]) : '';
  }
  function writeCookie() {
    var raw = 'v=' + S.v + '&c=' + S.c + '&t=' + S.t,
      base = '_prm=' + encodeURIComponent(raw) + '; path=/; max-age=' + ttl,
      tail = '; SameSite=Lax' + (cfg.secure || L.protocol == 'https:' ? '; Secure' : ''),
      dom = cfg.cookieDomain;
    if (dom && /^[.\w-]+$/.test(dom)) {
      d.cookie = base + '; domain=' + dom + tail;
      if (readCookie() == raw) return; // else refused: fall back to host-only
    }
    d.cookie = base + tail;
  }

  // ---- network (text/plain bodies => no CORS preflight) -------------------
  function xhr(u, body, cb) {
    var x = new w.XMLHttpRequest();
    x.open('POST', u, true);
    x.setRequestHeader('Content-Type', TXT);
    x.onreadystatechange = function () { if (x.readyState == 4 && cb) cb(x.status, x.responseText); };
    x.send(body);
  }
  function post(u, body, opts, cb) {
    opts.method = 'POST';
    opts.body = body;
    opts.headers = { 'Content-Type': TXT };
    w.fetch(u, opts).then(cb || noop, cb || noop).then(noop, noop);
  }
  function beacon(u, body) {
    try { if (n.sendBeacon(u, new w.Blob([body], { type: TXT }))) return; } catch (e) {}
    try { if (w.fetch) return post(u, body, { keepalive: true, mode: 'no-cors' }); } catch (e) {}
    try { xhr(u, body); } catch (e) {}
  }

  function lead(data, cb) {
    var c = code(), body = { k: cfg.key, v: S.v, c: c || '', t: c ? S.t : 0,
        u: cut(L.href, 2000), r: cut(d.referrer, 2000) },
      f = ['email', 'phone', 'name', 'external_id'], i, u = end + '/l', done;
    data = data || {};
    for (i = 0; i < 4; i++) if (data[f[i]] != null) body[f[i]] = cut(data[f[i]], 1000);
    body = JSON.stringify(body);
    function fin(status, text) {
      var j = null, err = null;
      if (done) return;
      done = 1;
      try { j = JSON.parse(text); } catch (e) {}
      if (!(status >= 200 && status < 300)) {
        err = new Error(status ? 'HTTP ' + status : 'network error');
        err.status = status;
      }
      if (typeof cb == 'function') safe(cb, err, j);
    }
    try {
      if (w.fetch) {
        post(u, body, { mode: 'cors', credentials: 'omit' }, function (r) {
          if (!r || !r.text) return fin(0); // network error
          r.text().then(function (t) { fin(r.status, t); }, function () { fin(r.status); });
        });
      } else {
        xhr(u, body, fin);
      }
    } catch (e) { fin(0); }
  }

  // ---- hidden form inputs -------------------------------------------------
  function fill(root) {
    var a = root.querySelectorAll('input[name="prm_ref"]'),
      b = root.querySelectorAll('input[name="prm_visitor"]'), i;
    for (i = 0; i < a.length; i++) a[i].value = code() || '';
    for (i = 0; i < b.length; i++) b[i].value = S.v;
  }

  // ---- recruitment widget: loaded from the platform only when a page asks ----
  function recruit(opts) {
    var ctx = { key: cfg.key, endpoint: end }, q, s;
    function go() { safe(w.__prmRecruit, ctx, opts || {}); }
    if (w.__prmRecruit) return go();
    q = w.__prmRecruitQ = w.__prmRecruitQ || [];
    q.push(go);
    if (q.length > 1) return; // already loading
    s = d.createElement('script');
    s.async = true;
    s.src = end + '/recruit.js';
    s.onload = function () {
      w.__prmRecruitQ = null;
      for (var i = 0; i < q.length; i++) q[i]();
    };
    (d.head || d.documentElement).appendChild(s);
  }
  // <div data-prm-recruit></div> (inline form) or <button data-prm-recruit="popup">
  function recruitTags(root) {
    var a = root.querySelectorAll('[data-prm-recruit]'), i, e;
    for (i = 0; i < a.length; i++) {
      e = a[i];
      if (e._prmRecruit) continue;
      e._prmRecruit = 1;
      if (e.getAttribute('data-prm-recruit') == 'popup') {
        e.addEventListener('click', function (ev) {
          ev.preventDefault();
          recruit({ mode: 'popup', lang: this.getAttribute('data-prm-lang') });
        });
      } else {
        recruit({ mode: 'inline', target: e, lang: e.getAttribute('data-prm-lang') });
      }
    }
  }

  // ---- public API: prm('referral'|'visitor'[, fn]) / prm('lead', data, cb) -
  //      / prm('recruit', {mode: 'popup'|'inline', target, lang})
  function api(cmd, a, b) {
    try {
      if (cmd == 'lead') return lead(a, b);
      if (cmd == 'recruit') return recruit(a);
      var r = cmd == 'visitor' ? S.v : cmd == 'referral' ? code() : undefined;
      if (typeof a == 'function') safe(a, r);
      return r;
    } catch (e) {}
  }
  api._prm = 1;

  // ---- init (everything that can throw stays inside this try) ---------------
  try {
    var old = w.prm;
    if (old && old._prm) return; // already loaded on this page
    d = w.document;
    n = w.navigator || {};
    L = w.location || {};
    ttl = Math.round((+cfg.days > 0 ? +cfg.days : 60) * 86400);
    end = String(cfg.endpoint || '').replace(/\/+$/, '');
    var t = now(), raw = readCookie(), ct = +param(raw, 't') || 0,
      c = valid(param(raw, 'c'), 1, 64), v = valid(param(raw, 'v'), 8, 64),
      nc = valid(url(cfg.param || 'ref'), 1, 64);
    if (ct + ttl < t) c = ''; // expired: forget the code, keep the visitor
    v = v || valid(url('prm_vid'), 8, 64);
    if (!v) { // 22 random chars [A-Za-z0-9_-]
      var abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-', rnd = [];
      try { rnd = w.crypto.getRandomValues(new Uint8Array(22)); } catch (e) {}
      for (i = 0; i < 22; i++) v += abc.charAt((rnd.length ? rnd[i] : Math.random() * 64) & 63);
    }
    S = { v: v, c: c, t: c ? ct : 0 };
    if (nc && (cfg.model == 'last' || !c)) S = { v: v, c: nc, t: t };
    try { writeCookie(); } catch (e) {}
    if (nc) beacon(end + '/c', JSON.stringify({
      k: cfg.key, c: nc, v: v, s: cut(url('sub'), 255), u: cut(L.href, 2000), r: cut(d.referrer, 2000)
    }));

    // replay calls queued by the stub, then take over window.prm
    w.prm = api;
    var q = old && old.q, i;
    for (i = 0; q && i < q.length; i++) try { api.apply(null, q[i]); } catch (e) {}

    function ready() { safe(fill, d); safe(recruitTags, d); }
    if (d.readyState == 'loading') d.addEventListener('DOMContentLoaded', ready);
    else ready();
    // capture phase: fill the submitted form before the site's own handlers run
    d.addEventListener('submit', function (e) { safe(fill, e.target); }, true);
  } catch (e) {}
})
