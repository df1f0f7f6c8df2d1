// The SPA demo's script. No framework, no build step.
//
// The tokens live in HttpOnly cookies: this script never sees them. It
// calls the API with fetch; the browser adds the access cookie. When an
// answer is 401 (the access cookie expired with its token, or the token was
// revoked) it posts to /auth/refresh ONCE, which rotates both cookies, and
// repeats the call ONCE. If either fails, the session is over and the
// sign-in form shows: never a loop.
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
      .then((res) => res.ok, () => false)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// api fetches path with the session's cookies: one refresh and one retry on
// 401, then SessionEnded.
async function api(path, options = {}) {
  const opts = { credentials: 'same-origin', ...options };
  let res = await fetch(path, opts);
  if (res.status !== 401) return res;
  if (await refreshOnce()) {
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
  $('who-expires').textContent = new Date(me.access_expires_at).toLocaleString();
  show('app');
  setStatus('');
  await loadSessions();
}

function shorten(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

async function loadSessions() {
  const { sessions } = await (await expectOK(await api('/auth/sessions'), 'listing sessions')).json();
  const rows = sessions.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    if (s.current) tr.className = 'current';
    const cells = [
      shorten(s.user_agent || 'unknown device', 60) + (s.current ? ' (this browser)' : ''),
      s.ip || '',
      new Date(s.created_at).toLocaleString(),
      new Date(s.last_used_at).toLocaleString(),
    ];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
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
  await expectOK(res, 'signing in');
  $('password').value = '';
  await loadMe();
}

async function init() {
  $('login-form').addEventListener('submit', (e) => run(() => login(e)));
  $('call-api').addEventListener('click', () => run(callAPI));
  $('logout').addEventListener('click', () => run(logout));
  $('logout-all').addEventListener('click', () => run(logoutAll));
  $('reload-sessions').addEventListener('click', () => run(loadSessions));

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
