// Tests for the embeddable tracking snippet (static/snippet/prm.js).
// Run with: node --test tests/snippet/
//
// The snippet is executed exactly as the server serves it:
//   <prm.js> + "(" + CONFIG_JSON + ");"
// inside a vm context with a hand-made fake window/document/navigator/location.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const SRC_PATH = fileURLToPath(new URL('../../static/snippet/prm.js', import.meta.url));
const SRC = fs.readFileSync(SRC_PATH, 'utf8');

const CFG = {
  key: 'pk_abc',
  endpoint: 'https://acme.example.com/t',
  param: 'ref',
  days: 60,
  model: 'first',
  cookieDomain: '',
  secure: true,
};
const DAY = 86400;
const STUB = 'window.prm=window.prm||function(){(window.prm.q=window.prm.q||[]).push(arguments)}';
const nowSec = () => Math.floor(Date.now() / 1000);
// objects created inside the vm context have a foreign prototype: normalise
const plain = (o) => JSON.parse(JSON.stringify(o));
const tick = () => new Promise((r) => setTimeout(r, 0));

function makeInputs() {
  return [
    { name: 'prm_ref', value: '' },
    { name: 'prm_visitor', value: '' },
  ];
}
function selector(list) {
  return (sel) => {
    const m = /name="([^"]+)"/.exec(sel);
    return list.filter((i) => m && i.name === m[1]);
  };
}

function fetchResponse(status, text) {
  return Promise.resolve({
    ok: status >= 200 && status < 300,
    status,
    text: () => Promise.resolve(text),
  });
}

/**
 * Build a fake browser environment and run the served snippet in it.
 * opts.jar: Map of cookie name -> raw value, shared between "page views".
 */
function load(opts = {}) {
  const cfg = { ...CFG, ...(opts.cfg || {}) };
  const jar = opts.jar || new Map();
  const cookieWrites = [];
  const u = new URL(opts.url || 'https://shop.example.com/');
  const inputs = makeInputs();
  const listeners = [];
  const beacons = [];
  const fetches = [];
  const xhrs = [];
  const scripts = [];

  const document = {
    get cookie() {
      return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    },
    set cookie(s) {
      cookieWrites.push(s);
      if (opts.refuseDomain && /;\s*domain=/i.test(s)) return;
      const first = s.split(';')[0];
      const i = first.indexOf('=');
      jar.set(first.slice(0, i).trim(), first.slice(i + 1));
    },
    referrer: opts.referrer || '',
    readyState: opts.readyState || 'complete',
    querySelectorAll: (sel) => (sel === '[data-prm-recruit]' ? opts.tags || [] : selector(inputs)(sel)),
    head: { appendChild: (el) => scripts.push(el) },
    createElement: (tag) => ({ tag }),
    addEventListener(type, fn, capture) {
      listeners.push({ type, fn, capture });
    },
  };
  const location = {
    href: u.href,
    protocol: u.protocol,
    host: u.host,
    hostname: u.hostname,
    pathname: u.pathname,
    search: u.search,
    hash: u.hash,
  };
  const navigator = { userAgent: 'test' };
  if (opts.beacon !== false) {
    navigator.sendBeacon = (url, data) => {
      beacons.push({ url, data });
      return opts.beaconResult !== undefined ? opts.beaconResult : true;
    };
  }
  const sandbox = { document, location, navigator, Blob };
  sandbox.window = sandbox;
  if (opts.crypto !== false) {
    sandbox.crypto = {
      getRandomValues(a) {
        const b = randomBytes(a.length);
        for (let i = 0; i < a.length; i++) a[i] = b[i];
        return a;
      },
    };
  }
  if (opts.fetch !== false) {
    sandbox.fetch = (url, init) => {
      fetches.push({ url, init });
      return opts.fetchImpl ? opts.fetchImpl(url, init) : fetchResponse(200, '{"ok":true}');
    };
  }
  sandbox.XMLHttpRequest = function () {
    const x = {
      headers: {},
      readyState: 0,
      status: 0,
      responseText: '',
      open(method, url, async) {
        Object.assign(x, { method, url, async });
      },
      setRequestHeader(k, v) {
        x.headers[k] = v;
      },
      send(body) {
        x.body = body;
        if (opts.xhrStatus !== undefined) {
          setTimeout(() => {
            x.readyState = 4;
            x.status = opts.xhrStatus;
            x.responseText = opts.xhrText || '';
            if (x.onreadystatechange) x.onreadystatechange();
          }, 0);
        }
      },
    };
    xhrs.push(x);
    return x;
  };

  const ctx = vm.createContext(sandbox);
  if (opts.stub) {
    vm.runInContext(STUB, ctx);
    opts.stub(sandbox.prm);
  }
  const globalsBefore = Object.keys(sandbox);
  vm.runInContext(SRC + '(' + JSON.stringify(cfg) + ');', ctx);

  function cookie() {
    const raw = jar.get('_prm');
    if (raw === undefined) return null;
    return Object.fromEntries(new URLSearchParams(decodeURIComponent(raw)));
  }
  function fire(type, event) {
    for (const l of listeners) if (l.type === type) l.fn(event);
  }
  return {
    sandbox, prm: sandbox.prm, jar, cookie, cookieWrites, inputs, listeners, beacons, fetches, xhrs,
    fire, globalsBefore, scripts,
  };
}

async function beaconBody(b) {
  return JSON.parse(await b.data.text());
}

// ---------------------------------------------------------------------------

test('served form is a single expression followed by (CONFIG);', () => {
  assert.match(SRC, /^\s*(\/\*[\s\S]*?\*\/\s*)?\(function \(cfg\) \{/);
  assert.match(SRC, /\}\)\s*$/);
  // must parse as a whole program when the server appends the invocation
  assert.doesNotThrow(() => new vm.Script(SRC + '(' + JSON.stringify(CFG) + ');'));
  assert.ok(!/\beval\s*\(|document\.write|new Function|\.style\b|innerHTML/.test(SRC));
});

test('gzipped size <= 4096 bytes', () => {
  const size = zlib.gzipSync(fs.readFileSync(SRC_PATH), { level: 9 }).length;
  assert.ok(size <= 4096, `gzipped size ${size} > 4096`);
});

test('arrival with ?ref=ALICE sets cookie and beacons the click', async () => {
  const before = nowSec();
  const env = load({
    url: 'https://shop.example.com/landing?ref=ALICE&sub=spring',
    referrer: 'https://blog.example.org/post',
  });
  const c = env.cookie();
  assert.equal(c.c, 'ALICE');
  assert.match(c.v, /^[A-Za-z0-9_-]{22}$/);
  assert.ok(+c.t >= before && +c.t <= nowSec());

  // cookie attributes
  assert.equal(env.cookieWrites.length, 1);
  const w = env.cookieWrites[0];
  assert.ok(w.startsWith('_prm=' + encodeURIComponent(`v=${c.v}&c=ALICE&t=${c.t}`) + ';'), w);
  assert.match(w, /; path=\/(;|$)/);
  assert.match(w, new RegExp(`; max-age=${60 * DAY}(;|$)`));
  assert.match(w, /; SameSite=Lax(;|$)/);
  assert.match(w, /; Secure(;|$)/);
  assert.doesNotMatch(w, /domain=/i);

  // click report
  assert.equal(env.beacons.length, 1);
  assert.equal(env.fetches.length, 0);
  const b = env.beacons[0];
  assert.equal(b.url, 'https://acme.example.com/t/c');
  assert.ok(b.data instanceof Blob);
  assert.equal(b.data.type, 'text/plain');
  assert.deepEqual(await beaconBody(b), {
    k: 'pk_abc',
    c: 'ALICE',
    v: c.v,
    s: 'spring',
    u: 'https://shop.example.com/landing?ref=ALICE&sub=spring',
    r: 'https://blog.example.org/post',
  });

  assert.equal(env.prm('referral'), 'ALICE');
  assert.equal(env.prm('visitor'), c.v);
  let got;
  assert.equal(env.prm('referral', (x) => (got = x)), 'ALICE');
  assert.equal(got, 'ALICE');
});

test('u and r are truncated to 2000 chars, sub defaults to ""', async () => {
  const long = 'x'.repeat(3000);
  const env = load({ url: 'https://shop.example.com/?ref=ALICE&pad=' + long, referrer: 'https://r.example/' + long });
  const body = await beaconBody(env.beacons[0]);
  assert.equal(body.u.length, 2000);
  assert.equal(body.r.length, 2000);
  assert.equal(body.s, '');
});

test('later page without the param keeps the code and sends no click', () => {
  const first = load({ url: 'https://shop.example.com/?ref=ALICE' });
  const c1 = first.cookie();
  const env = load({ url: 'https://shop.example.com/pricing', jar: first.jar });
  assert.equal(env.beacons.length, 0);
  assert.equal(env.fetches.length, 0);
  assert.equal(env.prm('referral'), 'ALICE');
  assert.equal(env.prm('visitor'), c1.v);
  assert.deepEqual(env.cookie(), c1); // t unchanged
  assert.equal(env.cookieWrites.length, 1); // cookie still refreshed
});

test('first-click keeps ALICE when ?ref=BOB arrives, but reports BOB click', async () => {
  const jar = new Map();
  const t0 = nowSec() - 5 * DAY;
  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${t0}`));
  const env = load({ url: 'https://shop.example.com/?ref=BOB', jar });
  assert.equal(env.prm('referral'), 'ALICE');
  assert.deepEqual(env.cookie(), { v: 'visitor_0001', c: 'ALICE', t: String(t0) });
  assert.equal(env.beacons.length, 1);
  const body = await beaconBody(env.beacons[0]);
  assert.equal(body.c, 'BOB');
  assert.equal(body.v, 'visitor_0001');
});

test('last-click switches to BOB', async () => {
  const jar = new Map();
  const t0 = nowSec() - 5 * DAY;
  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${t0}`));
  const env = load({ url: 'https://shop.example.com/?ref=BOB', jar, cfg: { model: 'last' } });
  assert.equal(env.prm('referral'), 'BOB');
  const c = env.cookie();
  assert.equal(c.c, 'BOB');
  assert.equal(c.v, 'visitor_0001');
  assert.ok(+c.t >= nowSec() - 2);
  assert.equal((await beaconBody(env.beacons[0])).c, 'BOB');
});

test('expired cookie: referral null, visitor kept; new code then accepted on first-click', () => {
  const jar = new Map();
  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${nowSec() - 61 * DAY}`));
  const env = load({ url: 'https://shop.example.com/', jar });
  assert.equal(env.prm('referral'), null);
  assert.equal(env.prm('visitor'), 'visitor_0001');
  assert.equal(env.cookie().c, '');

  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${nowSec() - 61 * DAY}`));
  const env2 = load({ url: 'https://shop.example.com/?ref=BOB', jar });
  assert.equal(env2.prm('referral'), 'BOB');
  assert.equal(env2.prm('visitor'), 'visitor_0001');
});

test('days from config drives expiry and max-age', () => {
  const jar = new Map();
  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${nowSec() - 8 * DAY}`));
  const env = load({ jar, cfg: { days: 7 } });
  assert.equal(env.prm('referral'), null);
  assert.match(env.cookieWrites[0], new RegExp(`max-age=${7 * DAY}(;|$)`));
  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${nowSec() - 6 * DAY}`));
  assert.equal(load({ jar, cfg: { days: 7 } }).prm('referral'), 'ALICE');
});

test('prm_vid from the /r/ redirect is adopted when there is no cookie', async () => {
  const env = load({ url: 'https://shop.example.com/?ref=ALICE&prm_vid=Abc_def-12345678' });
  assert.equal(env.prm('visitor'), 'Abc_def-12345678');
  assert.equal(env.cookie().v, 'Abc_def-12345678');
  assert.equal((await beaconBody(env.beacons[0])).v, 'Abc_def-12345678');
});

test('invalid prm_vid ignored; cookie visitor wins over prm_vid', () => {
  for (const bad of ['short', 'has%20space123', 'x'.repeat(65), 'bad!chars$$$']) {
    const env = load({ url: 'https://shop.example.com/?prm_vid=' + bad });
    assert.match(env.prm('visitor'), /^[A-Za-z0-9_-]{22}$/, bad);
  }
  const jar = new Map([['_prm', encodeURIComponent('v=cookie_visitor&c=&t=0')]]);
  const env = load({ url: 'https://shop.example.com/?prm_vid=Abc_def-12345678', jar });
  assert.equal(env.prm('visitor'), 'cookie_visitor');
});

test('visitor id falls back to Math.random without crypto', () => {
  const env = load({ crypto: false });
  assert.match(env.prm('visitor'), /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(env.prm('visitor'), load({ crypto: false }).prm('visitor'));
});

test('queued stub calls are replayed in order', async () => {
  const order = [];
  const env = load({
    url: 'https://shop.example.com/?ref=ALICE',
    stub(prm) {
      prm('visitor', (v) => order.push(['visitor', v]));
      prm('referral', (c) => order.push(['referral', c]));
      prm('lead', { email: 'a@b.c' }, (err, res) => order.push(['lead', err, res]));
      prm('referral', (c) => order.push(['referral2', c]));
    },
  });
  assert.equal(typeof env.prm, 'function');
  assert.equal(env.prm.q, undefined);
  const v = env.prm('visitor');
  assert.deepEqual(order.slice(0, 3), [['visitor', v], ['referral', 'ALICE'], ['referral2', 'ALICE']]);
  assert.equal(env.fetches.length, 1);
  assert.equal(env.fetches[0].url, 'https://acme.example.com/t/l');
  await tick();
  await tick();
  assert.deepEqual(plain(order[3]), ['lead', null, { ok: true }]);
});

test("prm('lead') posts the right JSON and calls back", async () => {
  const jar = new Map();
  const t0 = nowSec() - DAY;
  jar.set('_prm', encodeURIComponent(`v=visitor_0001&c=ALICE&t=${t0}`));
  const env = load({ jar, fetchImpl: () => fetchResponse(201, '{"id":42}') });
  const res = await new Promise((resolve) => {
    env.prm('lead', { email: 'jo@example.com', phone: '+1 555', name: 'Jo', external_id: 7, junk: 'x' }, (err, json) =>
      resolve(plain({ err, json })),
    );
  });
  assert.deepEqual(res, { err: null, json: { id: 42 } });
  assert.equal(env.fetches.length, 1);
  const { url, init } = env.fetches[0];
  assert.equal(url, 'https://acme.example.com/t/l');
  assert.equal(init.method, 'POST');
  assert.equal(init.mode, 'cors');
  assert.equal(init.credentials, 'omit');
  assert.equal(init.headers['Content-Type'], 'text/plain');
  assert.deepEqual(JSON.parse(init.body), {
    k: 'pk_abc',
    v: 'visitor_0001',
    c: 'ALICE',
    t: t0,
    email: 'jo@example.com',
    phone: '+1 555',
    name: 'Jo',
    external_id: '7',
    u: 'https://shop.example.com/', // the page: its utm_* are the lead's channel
    r: '',
  });
});

test("prm('lead') without a code sends c='' and t=0; errors reach the callback", async () => {
  const env = load({ fetchImpl: () => fetchResponse(400, '{"error":"bad email"}') });
  const res = await new Promise((resolve) => env.prm('lead', { email: 'x' }, (err, json) => resolve({ err, json })));
  assert.ok(res.err instanceof Error || (res.err && res.err.message));
  assert.equal(res.err.status, 400);
  assert.deepEqual(plain(res.json), { error: 'bad email' });
  const body = JSON.parse(env.fetches[0].init.body);
  assert.equal(body.c, '');
  assert.equal(body.t, 0);

  const env2 = load({ fetchImpl: () => Promise.reject(new TypeError('Failed to fetch')) });
  const res2 = await new Promise((resolve) => env2.prm('lead', {}, (err, json) => resolve({ err, json })));
  assert.ok(res2.err);
  assert.equal(res2.json, null);

  // a throwing callback must not escape
  const env3 = load();
  env3.prm('lead', {}, () => {
    throw new Error('site bug');
  });
  await tick();
  await tick();
});

test("prm('lead') falls back to XMLHttpRequest without fetch", async () => {
  const env = load({ fetch: false, xhrStatus: 200, xhrText: '{"id":1}' });
  const res = await new Promise((resolve) => env.prm('lead', { name: 'Jo' }, (err, json) => resolve(plain({ err, json }))));
  assert.deepEqual(res, { err: null, json: { id: 1 } });
  const x = env.xhrs[0];
  assert.equal(x.method, 'POST');
  assert.equal(x.url, 'https://acme.example.com/t/l');
  assert.equal(x.headers['Content-Type'], 'text/plain');
  assert.equal(JSON.parse(x.body).name, 'Jo');
});

test('click falls back to fetch (keepalive, no-cors) then XHR when beacon is unavailable', async () => {
  for (const opts of [{ beacon: false }, { beaconResult: false }]) {
    const env = load({ url: 'https://shop.example.com/?ref=ALICE', ...opts });
    assert.equal(env.fetches.length, 1);
    const { url, init } = env.fetches[0];
    assert.equal(url, 'https://acme.example.com/t/c');
    assert.equal(init.method, 'POST');
    assert.equal(init.keepalive, true);
    assert.equal(init.mode, 'no-cors');
    assert.equal(init.headers['Content-Type'], 'text/plain');
    assert.equal(JSON.parse(init.body).c, 'ALICE');
  }
  const env = load({ url: 'https://shop.example.com/?ref=ALICE', beacon: false, fetch: false });
  assert.equal(env.xhrs.length, 1);
  assert.equal(env.xhrs[0].url, 'https://acme.example.com/t/c');
  assert.equal(env.xhrs[0].headers['Content-Type'], 'text/plain');
  assert.equal(JSON.parse(env.xhrs[0].body).c, 'ALICE');

  // a rejected no-cors fetch must not surface as an unhandled rejection
  const env2 = load({
    url: 'https://shop.example.com/?ref=ALICE',
    beacon: false,
    fetchImpl: () => Promise.reject(new TypeError('blocked')),
  });
  assert.equal(env2.fetches.length, 1);
  await tick();
});

test('hidden inputs are filled on load', () => {
  const env = load({ url: 'https://shop.example.com/?ref=ALICE' });
  assert.equal(env.inputs[0].value, 'ALICE');
  assert.equal(env.inputs[1].value, env.prm('visitor'));
  const none = load();
  assert.equal(none.inputs[0].value, '');
  assert.equal(none.inputs[1].value, none.prm('visitor'));
});

test('hidden inputs wait for DOMContentLoaded while loading', () => {
  const env = load({ url: 'https://shop.example.com/?ref=ALICE', readyState: 'loading' });
  assert.equal(env.inputs[0].value, '');
  assert.ok(env.listeners.some((l) => l.type === 'DOMContentLoaded'));
  env.fire('DOMContentLoaded', {});
  assert.equal(env.inputs[0].value, 'ALICE');
  assert.equal(env.inputs[1].value, env.prm('visitor'));
});

test('submit listener (capture phase) fills forms added later', () => {
  const env = load({ url: 'https://shop.example.com/?ref=ALICE' });
  const sub = env.listeners.find((l) => l.type === 'submit');
  assert.ok(sub);
  assert.equal(sub.capture, true);
  const formInputs = makeInputs();
  const form = { tagName: 'FORM', querySelectorAll: selector(formInputs) };
  env.fire('submit', { target: form });
  assert.equal(formInputs[0].value, 'ALICE');
  assert.equal(formInputs[1].value, env.prm('visitor'));
  // odd targets must not throw
  assert.doesNotThrow(() => env.fire('submit', { target: null }));
  assert.doesNotThrow(() => env.fire('submit', {}));
});

test('invalid codes are ignored; codes are trimmed', async () => {
  for (const bad of ['%3Cscript%3E', 'a'.repeat(65), '%20%20', 'ali%20ce', 'x.y', '']) {
    const env = load({ url: 'https://shop.example.com/?ref=' + bad });
    assert.equal(env.prm('referral'), null, bad);
    assert.equal(env.beacons.length, 0, bad);
    assert.equal(env.cookie().c, '', bad);
  }
  const ok = load({ url: 'https://shop.example.com/?ref=%20' + 'a'.repeat(64) + '%20' });
  assert.equal(ok.prm('referral'), 'a'.repeat(64));
});

test('custom param name and #ref= in the hash are accepted', async () => {
  const h = load({ url: 'https://shop.example.com/page#ref=ALICE' });
  assert.equal(h.prm('referral'), 'ALICE');
  assert.equal((await beaconBody(h.beacons[0])).c, 'ALICE');
  const spa = load({ url: 'https://shop.example.com/#/signup?ref=ALICE' });
  assert.equal(spa.prm('referral'), 'ALICE');
  const custom = load({ url: 'https://shop.example.com/?via=CAROL&ref=ALICE', cfg: { param: 'via' } });
  assert.equal(custom.prm('referral'), 'CAROL');
});

test('cookieDomain is used when set; Secure follows config/protocol', () => {
  const env = load({ cfg: { cookieDomain: '.acme.example.com' } });
  assert.match(env.cookieWrites[0], /; domain=\.acme\.example\.com(;|$)/);
  assert.equal(env.cookieWrites.length, 1);

  // a browser refusing the domain (mismatch) -> retried host-only
  const env2 = load({ cfg: { cookieDomain: '.other.example' }, refuseDomain: true });
  assert.equal(env2.cookieWrites.length, 2);
  assert.match(env2.cookieWrites[0], /; domain=\.other\.example/);
  assert.doesNotMatch(env2.cookieWrites[1], /domain=/);
  assert.equal(env2.cookie().v, env2.prm('visitor'));

  // junk in cookieDomain is never injected into the cookie string
  const junk = load({ cfg: { cookieDomain: 'x; path=/evil' } });
  assert.doesNotMatch(junk.cookieWrites[0], /domain=|evil/);

  const plain = load({ url: 'http://shop.example.com/', cfg: { secure: false } });
  assert.doesNotMatch(plain.cookieWrites[0], /Secure/);
  const https = load({ url: 'https://shop.example.com/', cfg: { secure: false } });
  assert.match(https.cookieWrites[0], /; Secure(;|$)/);
  const forced = load({ url: 'http://shop.example.com/', cfg: { secure: true } });
  assert.match(forced.cookieWrites[0], /; Secure(;|$)/);
});

test('loading the snippet twice on a page is a no-op the second time', () => {
  const env = load({ url: 'https://shop.example.com/?ref=ALICE' });
  const api = env.prm;
  vm.runInContext(SRC + '(' + JSON.stringify(CFG) + ');', env.sandbox);
  assert.equal(env.sandbox.prm, api);
  assert.equal(env.beacons.length, 1);
});

test('only window.prm is added to the global scope', () => {
  const env = load({ url: 'https://shop.example.com/?ref=ALICE' });
  const added = Object.keys(env.sandbox).filter((k) => !env.globalsBefore.includes(k));
  assert.deepEqual(added, ['prm']);
});

test('never throws into the host page', () => {
  // document.cookie throws (e.g. sandboxed iframe)
  const sandbox = {
    location: { href: 'https://x/?ref=A', search: '?ref=A', hash: '', protocol: 'https:' },
    navigator: {},
    document: {
      get cookie() {
        throw new Error('SecurityError');
      },
      set cookie(_) {
        throw new Error('SecurityError');
      },
      addEventListener() {},
      querySelectorAll() {
        throw new Error('boom');
      },
      readyState: 'complete',
    },
  };
  sandbox.window = sandbox;
  assert.doesNotThrow(() => vm.runInNewContext(SRC + '(' + JSON.stringify(CFG) + ');', sandbox));
  assert.equal(typeof sandbox.prm, 'function');
  assert.doesNotThrow(() => sandbox.prm('lead', {}, () => {}));

  // completely empty environment / bad config
  assert.doesNotThrow(() => vm.runInNewContext(SRC + '(null);', { window: {} }));
  assert.doesNotThrow(() => vm.runInNewContext(SRC + '({});', { window: {} }));
  assert.doesNotThrow(() => load().prm('nonsense', 1, 2));
});

// ---- recruitment widget: prm.js only loads /t/recruit.js and hands it the options ----
function recruitTag(value, lang) {
  const attrs = { 'data-prm-recruit': value, 'data-prm-lang': lang };
  const el = { clicks: [], getAttribute: (k) => (k in attrs ? attrs[k] : null) };
  el.addEventListener = (type, fn) => el.clicks.push({ type, fn });
  return el;
}

test("prm('recruit') loads recruit.js once and hands every queued call the key and endpoint", () => {
  const env = load();
  const seen = [];
  env.prm('recruit', { mode: 'popup' });
  env.prm('recruit', { mode: 'inline', target: '#join' });
  assert.equal(env.scripts.length, 1, 'one script while loading');
  assert.equal(env.scripts[0].src, 'https://acme.example.com/t/recruit.js');
  assert.equal(env.scripts[0].async, true);
  env.sandbox.__prmRecruit = (ctx, o) => seen.push(plain({ ctx, o }));
  env.scripts[0].onload();
  assert.deepEqual(seen, [
    { ctx: { key: 'pk_abc', endpoint: 'https://acme.example.com/t' }, o: { mode: 'popup' } },
    { ctx: { key: 'pk_abc', endpoint: 'https://acme.example.com/t' }, o: { mode: 'inline', target: '#join' } },
  ]);
  env.prm('recruit', { mode: 'popup', lang: 'ru' }); // loaded: runs at once, no new script
  assert.equal(env.scripts.length, 1);
  assert.equal(seen[2].o.lang, 'ru');
});

test('data-prm-recruit: inline tags open at load, popup tags on click, each tag once', () => {
  const inline = recruitTag('', 'ru');
  const popup = recruitTag('popup', null);
  const env = load({ tags: [inline, popup] });
  const seen = [];
  env.sandbox.__prmRecruit = (ctx, o) => seen.push(o);
  env.scripts[0].onload();
  assert.equal(seen.length, 1);
  assert.equal(seen[0].mode, 'inline');
  assert.equal(seen[0].target, inline);
  assert.equal(seen[0].lang, 'ru');
  assert.equal(popup.clicks.length, 1);
  let prevented = false;
  popup.clicks[0].fn.call(popup, { preventDefault: () => (prevented = true) });
  assert.ok(prevented);
  assert.equal(seen.length, 2);
  assert.equal(seen[1].mode, 'popup');
  assert.equal(seen[1].lang, null);
});

test('a broken recruit.js never throws into the host page', () => {
  const env = load();
  env.sandbox.__prmRecruit = () => {
    throw new Error('boom');
  };
  assert.doesNotThrow(() => env.prm('recruit', { mode: 'popup' }));
});
