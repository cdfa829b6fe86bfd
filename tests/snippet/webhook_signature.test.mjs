// README's Node.js webhook check, run as written: it must accept what the platform
// signs (HMAC-SHA256 over "<t>.<raw body>", prm/webhooks/delivery.py) and refuse the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const block = readme.match(/```js\n(const crypto = require[\s\S]*?function verify[\s\S]*?)```/);
const verify = new Function('require', `${block[1]}\nreturn verify;`)(createRequire(import.meta.url));

const secret = 'whsec_test';
const body = Buffer.from('{"id":"evt_1","type":"lead.created","data":{"name":"Zoë"}}');
const sign = (t, key = secret, raw = body) =>
  crypto.createHmac('sha256', key).update(`${t}.`).update(raw).digest('hex');

test('README verify accepts a fresh signature, either of two v1 values', () => {
  const t = Math.floor(Date.now() / 1000);
  assert.equal(verify(`t=${t},v1=${sign(t)}`, body, secret), true);
  assert.equal(verify(`t=${t},v1=${sign(t, 'whsec_old')},v1=${sign(t)}`, body, secret), true);
});

test('README verify refuses another body, another secret, an old time, junk', () => {
  const t = Math.floor(Date.now() / 1000);
  assert.equal(verify(`t=${t},v1=${sign(t)}`, Buffer.from(body.toString() + ' '), secret), false);
  assert.equal(verify(`t=${t},v1=${sign(t, 'whsec_other')}`, body, secret), false);
  assert.equal(verify(`t=${t - 600},v1=${sign(t - 600)}`, body, secret), false);
  assert.equal(verify(`t=${t},v1=zz`, body, secret), false);
  assert.equal(verify('garbage', body, secret), false);
});
