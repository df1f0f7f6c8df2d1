// The SPA demo's script. No framework, no build step.
//
// The tokens live in HttpOnly cookies: this script never sees them. It
// calls the API with fetch; the browser adds the access cookie. When an
// answer is 401 (the access cookie expired with its token, or the token was
// revoked) it posts to /auth/refresh ONCE, which rotates both cookies, and
// repeats the call ONCE. If either fails, the session is over and the
// sign-in form shows: never a loop. The page counts down to the access
// token's expiry and says when it refreshed silently.
'use strict';

const $ = (id) => document.getElementById(id);

// SessionEnded is thrown when the refresh could not save the session.
class SessionEnded extends Error {}

// refreshing is the refresh in flight, shared by the calls of this tab that
// got a 401 at the same time, so that they refresh once between them.
let refreshing = null;

function refreshOnce() {
  if (!refreshing) {
    refreshing = fetch('/auth/refresh', { method: 'POST', credentials: 'same-origin' })
      .then(async (res) => {
        if (!res.ok) return false;
        refreshed((await res.json().catch(() => ({}))).access_expires_at);
        return true;
      })
      .catch(() => false)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

const pad = (n) => String(n).padStart(2, '0');
const hhmmss = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

// expiresAt is when the access token expires (ms since the epoch), as the
// last answer that said so told: sign-in, /api/me or a refresh. 0: unknown.
let expiresAt = 0;

function setExpiry(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return;
  expiresAt = t;
  $('who-expires').textContent = `(until ${hhmmss(new Date(t))})`;
  tick();
}

// tick shows the access token's time left, in whole seconds; it runs twice
// a second so that no second is skipped.
function tick() {
  const el = $('countdown');
  let text = '';
  if (expiresAt) {
    const left = Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000));
    const m = Math.floor(left / 60);
    text = left > 0
      ? `expires in ${m >= 60 ? `${Math.floor(m / 60)}:${pad(m % 60)}` : m}:${pad(left % 60)}`
      : 'expired: the next call refreshes it silently';
    el.dataset.left = String(left);
  }
  if (el.textContent !== text) el.textContent = text;
}

// refreshed shows a silent refresh: the new expiry, when it happened, and
// the sessions list, whose last refresh changed. That list is asked for
// without a refresh of its own: a 401 right after a refresh ends the
// session instead of looping.
function refreshed(expiry) {
  setExpiry(expiry);
  const line = $('refreshed');
  line.textContent = `Access token refreshed silently at ${hhmmss(new Date())}`;
  line.dataset.count = String(Number(line.dataset.count) + 1);
  line.hidden = false;
  run(() => loadSessions(false));
}

// api fetches path with the session's cookies: one refresh and one retry on
// 401 (unless refresh is false), then SessionEnded.
async function api(path, options = {}, refresh = true) {
  const opts = { credentials: 'same-origin', ...options };
  let res = await fetch(path, opts);
  if (res.status !== 401) return res;
  if (refresh && await refreshOnce()) {
    res = await fetch(path, opts);
    if (res.status !== 401) return res;
  }
  throw new SessionEnded();
}

function setStatus(text) { $('status').textContent = text; }

function show(view) {
  document.body.dataset.view = view;
  $('login-view').hidden = view !== 'login';
  $('app-view').hidden = view !== 'app';
}

function showLogin(message) {
  show('login');
  expiresAt = 0;
  $('refreshed').hidden = true;
  setStatus(message || '');
  $('username').focus();
}

// run runs an action of the page: a SessionEnded shows the sign-in form,
// other failures a message.
async function run(action) {
  try {
    await action();
  } catch (err) {
    if (err instanceof SessionEnded) {
      showLogin('Your session has ended. Please sign in again.');
    } else {
      setStatus(`Something went wrong: ${err.message}`);
    }
  }
}

async function expectOK(res, what) {
  if (res.ok) return res;
  let detail = `${res.status}`;
  try { detail = (await res.json()).error_description || detail; } catch { /* not JSON */ }
  throw new Error(`${what} failed (${detail})`);
}

async function loadMe() {
  const me = await (await expectOK(await api('/api/me'), 'loading your profile')).json();
  $('who-name').textContent = me.name || me.user;
  $('who-user').textContent = me.user;
  $('who-session').textContent = me.session_id;
  setExpiry(me.access_expires_at);
  show('app');
  setStatus('');
  await loadSessions();
}

function shorten(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

const when = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });

// cell returns a table cell holding text, labelled for the narrow layout,
// where each row is a card.
function cell(label, text) {
  const td = document.createElement('td');
  td.dataset.label = label;
  td.textContent = text;
  return td;
}

// listing counts the session lists asked for: only the latest is shown.
let listing = 0;

async function loadSessions(refresh = true) {
  const n = ++listing;
  const { sessions } = await (await expectOK(await api('/auth/sessions', {}, refresh), 'listing sessions')).json();
  if (n !== listing) return;
  const rows = sessions.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    if (s.current) tr.className = 'current';
    // device is sessionkit.DeviceName of the user agent: "Chrome on Linux".
    const device = cell('Device', s.device || shorten(s.user_agent || 'Unknown device', 40));
    device.className = 'device';
    device.title = s.user_agent || '';
    if (s.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'this browser';
      device.append(' ', badge);
    }
    tr.append(device,
      cell('IP', s.ip || ''),
      cell('Signed in', when(s.created_at)),
      cell('Last refresh', when(s.last_used_at)));
    const td = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'revoke';
    button.textContent = 'Sign out';
    button.addEventListener('click', () => run(() => revoke(s.id, s.current)));
    td.append(button);
    tr.append(td);
    return tr;
  });
  $('sessions').replaceChildren(...rows);
  $('sessions').dataset.count = String(sessions.length);
}

async function revoke(id, current) {
  await expectOK(await api(`/auth/sessions?id=${encodeURIComponent(id)}`, { method: 'DELETE' }), 'signing out that session');
  if (current) {
    showLogin('You are signed out.');
    return;
  }
  await loadSessions();
}

let calls = 0;

async function callAPI() {
  const body = await (await expectOK(await api('/api/hello'), 'calling the API')).json();
  calls++;
  $('api-result').textContent = JSON.stringify(body, null, 2);
  $('api-result').dataset.calls = String(calls);
}

async function logout() {
  // No retry here: logging out needs no access token, only the refresh
  // cookie, which the browser sends to /auth/logout.
  await expectOK(await fetch('/auth/logout', { method: 'POST', credentials: 'same-origin' }), 'logging out');
  showLogin('You are signed out.');
}

async function logoutAll() {
  await expectOK(await api('/auth/logout-all', { method: 'POST' }), 'logging out everywhere');
  showLogin('You are signed out on every device.');
}

async function login(event) {
  event.preventDefault();
  $('login-error').hidden = true;
  const res = await fetch('/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: $('username').value, password: $('password').value }),
  });
  if (res.status === 401) {
    $('login-error').textContent = 'Wrong username or password.';
    $('login-error').hidden = false;
    return;
  }
  const body = await (await expectOK(res, 'signing in')).json();
  $('password').value = '';
  setExpiry(body.access_expires_at);
  await loadMe();
}

async function init() {
  $('login-form').addEventListener('submit', (e) => run(() => login(e)));
  $('call-api').addEventListener('click', () => run(callAPI));
  $('logout').addEventListener('click', () => run(logout));
  $('logout-all').addEventListener('click', () => run(logoutAll));
  $('reload-sessions').addEventListener('click', () => run(loadSessions));
  setInterval(tick, 500);

  const info = await (await fetch('/api/info')).json();
  $('insecure').hidden = !info.insecure_http;
  $('demo-users').textContent = info.users.map((u) => `${u.username} / ${u.password}`).join(', ');
  try {
    await loadMe();
  } catch (err) {
    if (err instanceof SessionEnded) {
      showLogin(''); // not signed in yet
    } else {
      setStatus(`Something went wrong: ${err.message}`);
    }
  }
}

init();
