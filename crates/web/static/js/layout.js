// What every page shares: who is logged in (as far as a page script can know), the
// header's links, log-out, and messages carried over a page change.
import { api, enc } from './api.js';
import { toast } from './ui.js';

const KEY = 'reel.user';
const FLASH = 'reel.flash';

/** The logged-in user's name, or null. The session cookie itself is HttpOnly. */
export function currentUser() {
  try { return localStorage.getItem(KEY); } catch (_) { return null; }
}

/** Remembers who logged in (the API has set the session cookie). */
export function rememberUser(name) {
  try { localStorage.setItem(KEY, name); } catch (_) { /* storage off: this page only */ }
  renderHeader(name);
}

/** Forgets the user: logged out, or the session expired. */
export function forgetUser() {
  try { localStorage.removeItem(KEY); } catch (_) { /* nothing to forget */ }
  renderHeader(null);
}

/** Shows a message on the next page (after a redirect). */
export function flashNext(message) {
  try { sessionStorage.setItem(FLASH, message); } catch (_) { /* shown nowhere then */ }
}

/** The current page's path, for a "log in and come back" link. */
export function loginLink(path = location.pathname + location.search) {
  return `/login?next=${enc(path)}`;
}

function renderHeader(name) {
  document.documentElement.dataset.auth = name ? 'in' : 'out';
  const me = document.getElementById('nav-me');
  if (!me) return;
  if (name) {
    me.href = `/u/${enc(name)}`;
    document.getElementById('nav-name').textContent = name;
    document.getElementById('nav-avatar').textContent = name[0].toUpperCase();
    document.getElementById('nav-upload').href = `/u/${enc(name)}#upload`;
  }
  const here = location.pathname + location.search;
  if (location.pathname !== '/login' && location.pathname !== '/register') {
    document.getElementById('nav-login').href = loginLink(here);
  }
  document.dispatchEvent(new CustomEvent('reel:auth', { detail: { user: name } }));
}

async function logOut(button) {
  const name = currentUser();
  button.disabled = true;
  try {
    if (name) await api('DELETE', `/user/${enc(name)}`);
  } catch (err) {
    // 401: the session had already ended; anything else: say so and stay logged in.
    if (err.status !== 401 && err.status !== 403) {
      button.disabled = false;
      toast(err.message);
      return;
    }
  }
  forgetUser();
  flashNext('You are logged out.');
  location.assign('/');
}

/**
 * Confirms with the API that the remembered session is alive, and forgets the user if
 * not (pages follow through the `reel:auth` event). A network failure keeps the
 * remembered name: the next call will tell.
 */
async function checkSession() {
  const name = currentUser();
  if (!name) return;
  try {
    await api('GET', `/user/${enc(name)}`);
  } catch (err) {
    if (err.status === 401 || err.status === 403 || err.status === 404) forgetUser();
  }
}

renderHeader(currentUser());
checkSession();
document.getElementById('logout')?.addEventListener('click', (e) => logOut(e.currentTarget));
window.addEventListener('storage', (e) => {
  if (e.key === KEY) renderHeader(e.newValue);
});
try {
  const flash = sessionStorage.getItem(FLASH);
  if (flash) {
    sessionStorage.removeItem(FLASH);
    toast(flash);
  }
} catch (_) { /* no flash */ }
