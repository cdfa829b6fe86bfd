/* PRM recruitment widget: loaded by the tracking snippet on `prm('recruit', {...})` or a
   `data-prm-recruit` element. It draws the program's offer and a partner sign-up form in
   a shadow root (the client's CSS cannot break it, ours cannot leak), in the workspace's
   colours and the visitor's language, and posts to /t/<key>/recruit.
   Everything shown comes from the server as text: no HTML from data is ever parsed. */
(function (w) {
  'use strict';
  if (w.__prmRecruit) return;
  var d = w.document;

  var CSS = [
    ':host{all:initial;display:block}',
    '.box{box-sizing:border-box;font:15px/1.45 var(--font);color:#1f2933;background:#fff;',
    'border:1px solid #d9dee4;border-radius:10px;padding:20px;max-width:420px;width:100%}',
    '.box *{box-sizing:border-box}',
    '.overlay{position:fixed;inset:0;background:rgba(15,23,42,.55);display:flex;',
    'align-items:center;justify-content:center;padding:12px;z-index:2147483000}',
    '.overlay .box{box-shadow:0 12px 40px rgba(0,0,0,.25);max-height:100%;overflow:auto}',
    'h2{font-size:20px;margin:0 0 6px;color:var(--brand-dark)}',
    'p{margin:0 0 10px}',
    'ul{margin:0 0 12px;padding-left:20px}',
    'label{display:block;margin:0 0 10px;font-weight:600}',
    'input[type=text],input[type=email]{display:block;width:100%;font:inherit;padding:8px 10px;',
    'margin-top:4px;border:1px solid #b8c2cc;border-radius:6px}',
    '.check{display:flex;gap:8px;align-items:flex-start;font-weight:400}',
    '.check input{margin-top:4px}',
    'button{font:inherit;cursor:pointer;border:0;border-radius:6px;padding:10px 16px}',
    '.go{background:var(--brand);color:#fff;font-weight:600;width:100%}',
    '.go:disabled{opacity:.6;cursor:default}',
    '.close{float:right;background:none;color:#52606d;font-size:22px;line-height:1;padding:0 4px}',
    '.err{color:#b42318;font-size:13px;font-weight:400;display:block;margin-top:2px}',
    '.msg{margin:10px 0 0}',
    '.trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}',
    '.logo{max-height:36px;max-width:160px;display:block;margin-bottom:8px}'
  ].join('');

  function el(tag, attrs, text) {
    var e = d.createElement(tag), k;
    for (k in attrs || {}) if (attrs[k] != null) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = String(text);
    return e;
  }

  function style(root) {
    try {
      var sheet = new w.CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      root.appendChild(el('style', null, CSS)); // older browsers
    }
  }

  function language(opts) {
    var l = opts.lang || (d.documentElement && d.documentElement.lang) || (w.navigator || {}).language || 'en';
    return String(l).slice(0, 8);
  }

  function request(method, url, body, cb) {
    var x = new w.XMLHttpRequest();
    x.open(method, url, true);
    if (body) x.setRequestHeader('Content-Type', 'text/plain'); // no CORS preflight
    x.onreadystatechange = function () {
      if (x.readyState != 4) return;
      var j = null;
      try { j = JSON.parse(x.responseText); } catch (e) {}
      cb(x.status, j || {});
    };
    x.send(body || null);
  }

  function form(root, info, url, onDone) {
    var t = info.texts || {}, b = info.brand || {}, box = el('div', { 'class': 'box', part: 'box' });
    box.style.setProperty('--brand', b.primary || '#2563eb');
    box.style.setProperty('--brand-dark', b.primary_dark || '#1e40af');
    box.style.setProperty('--font', b.font || 'system-ui, sans-serif');
    if (onDone.close) {
      var x = el('button', { type: 'button', 'class': 'close', 'aria-label': t.close }, '\u00d7');
      x.addEventListener('click', onDone.close);
      box.appendChild(x);
    }
    if (b.logo) box.appendChild(el('img', { 'class': 'logo', src: b.logo, alt: info.workspace || '' }));
    box.appendChild(el('h2', { id: 'prm-recruit-title' }, t.title));
    box.appendChild(el('p', null, t.intro));
    box.appendChild(el('p', { 'class': 'program' }, info.program + (info.product ? ' \u2014 ' + info.product : '')));
    if (info.rewards && info.rewards.length) {
      var ul = el('ul', { 'class': 'rewards' });
      for (var i = 0; i < info.rewards.length; i++) ul.appendChild(el('li', null, info.rewards[i]));
      box.appendChild(ul);
    }
    var f = el('form', { novalidate: '' }), fields = {};
    function field(name, type, label) {
      var lab = el('label', null, label), inp = el('input', { type: type, name: name, required: '' });
      if (name == 'email') inp.setAttribute('autocomplete', 'email');
      if (name == 'name') inp.setAttribute('autocomplete', 'name');
      lab.appendChild(inp);
      var err = el('span', { 'class': 'err', 'data-for': name });
      lab.appendChild(err);
      f.appendChild(lab);
      fields[name] = { input: inp, err: err };
    }
    field('name', 'text', t.name);
    field('email', 'email', t.email);
    var trap = el('label', { 'class': 'trap', 'aria-hidden': 'true' }, 'Website');
    var trapInput = el('input', { type: 'text', name: info.honeypot || 'website', tabindex: '-1', autocomplete: 'off' });
    trap.appendChild(trapInput);
    f.appendChild(trap);
    var cons = el('label', { 'class': 'check' }), box2 = el('input', { type: 'checkbox', name: 'consent' });
    cons.appendChild(box2);
    cons.appendChild(el('span', null, t.consent));
    var consErr = el('span', { 'class': 'err', 'data-for': 'consent' });
    f.appendChild(cons);
    f.appendChild(consErr);
    fields.consent = { input: box2, err: consErr };
    var go = el('button', { type: 'submit', 'class': 'go' }, t.submit);
    f.appendChild(go);
    var msg = el('p', { 'class': 'msg', role: 'status' });
    f.appendChild(msg);
    box.appendChild(f);

    f.addEventListener('submit', function (e) {
      e.preventDefault();
      var k;
      for (k in fields) fields[k].err.textContent = '';
      msg.textContent = t.sending;
      go.disabled = true;
      var body = { name: fields.name.input.value, email: fields.email.input.value, consent: !!box2.checked };
      body[info.honeypot || 'website'] = trapInput.value;
      request('POST', url, JSON.stringify(body), function (status, j) {
        go.disabled = false;
        if (status == 200 && j.ok) {
          var done = el('p', { 'class': 'msg thanks', role: 'status' }, t.thanks);
          f.parentNode.replaceChild(done, f);
          if (j.after_approval) box.appendChild(el('p', null, t.after_approval));
          return;
        }
        var er = j.error || {}, fe = er.fields || {};
        msg.textContent = er.message || t.failed;
        for (k in fe) if (fields[k]) fields[k].err.textContent = [].concat(fe[k]).join(' ');
      });
    });
    root.appendChild(box);
    return fields.name.input;
  }

  w.__prmRecruit = function (ctx, opts) {
    opts = opts || {};
    var url = ctx.endpoint + '/' + encodeURIComponent(ctx.key) + '/recruit',
      target = opts.target, host;
    if (typeof target == 'string') target = d.querySelector(target);
    request('GET', url + '?lang=' + encodeURIComponent(language(opts)), null, function (status, info) {
      if (status != 200) return;
      host = el('div', { 'class': 'prm-recruit', 'data-prm-recruit-widget': '' });
      var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;
      style(root);
      if (opts.mode == 'popup' || !target) {
        var overlay = el('div', { 'class': 'overlay', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'prm-recruit-title' });
        root.appendChild(overlay);
        var close = function () {
          if (host.parentNode) host.parentNode.removeChild(host);
          d.removeEventListener('keydown', esc);
        };
        var esc = function (e) { if (e.key == 'Escape') close(); };
        d.addEventListener('keydown', esc);
        overlay.addEventListener('click', function (e) { if (e.target === overlay) close(); });
        var first = form(overlay, info, url, { close: close });
        d.body.appendChild(host);
        try { first.focus(); } catch (e) {}
      } else {
        form(root, info, url, {});
        target.appendChild(host);
      }
    });
  };
})(window);
