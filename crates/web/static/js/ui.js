// Small DOM helpers shared by the pages. Text from users only ever goes in through
// textContent or attribute values, never as HTML.

/** Builds an element: h('a', { href: '/', class: 'x' }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** 75.4 → "1:15", 3725 → "1:02:05". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** 1536 → "1.5 KB". */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** An RFC 3339 time as "3 minutes ago". */
export function timeAgo(iso) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return '';
  const seconds = Math.round((then - Date.now()) / 1000);
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [7, 'day'], [4.35, 'week'], [12, 'month'], [Infinity, 'year']];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return '';
}

/** "Nov 26 2025, 00:59:53" (the API's display time, UTC) → "Nov 26 2025". */
export function shortDate(display) {
  return String(display ?? '').split(',')[0];
}

/** Says something to the reader (visually, and to screen readers). */
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('visible');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('visible'), 4000);
}

/** Asks for confirmation in the page's modal dialog; resolves to true or false. */
export function confirmDialog({ title, message, confirm = 'Delete' }) {
  const dialog = document.getElementById('confirm-dialog');
  dialog.querySelector('#confirm-title').textContent = title;
  dialog.querySelector('#confirm-message').textContent = message;
  dialog.querySelector('#confirm-ok').textContent = confirm;
  dialog.returnValue = '';
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(dialog.returnValue === 'ok');
    }, { once: true });
    dialog.showModal();
    dialog.querySelector('#confirm-cancel').focus();
  });
}

/** Shows or hides an inline field error, wiring it to its input for screen readers. */
export function fieldError(input, message) {
  const error = document.getElementById(`${input.id}-error`);
  if (error) {
    error.textContent = message ?? '';
    error.hidden = !message;
  }
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
}

/** Shows or hides a form-level error. */
export function formError(el, message) {
  el.textContent = message ?? '';
  el.hidden = !message;
}

/** The "nothing here" / "not found" / "went wrong" blocks, in the look of the error pages. */
export function stateBlock({ code, title, message, action }) {
  return h('div', { class: 'state-block' },
    code ? h('p', { class: 'error-code', 'aria-hidden': 'true' }, code) : null,
    h('h2', {}, title),
    message ? h('p', {}, message) : null,
    action ?? null);
}

/** Replaces a page's whole content with a not-found block (a user or video that is gone). */
export function showNotFound(what) {
  const main = document.getElementById('main');
  main.replaceChildren(h('div', { class: 'error-page' },
    h('p', { class: 'error-code', 'aria-hidden': 'true' }, '404'),
    h('h1', {}, `${what} not found`),
    h('p', {}, 'It may have been deleted, or the link is wrong.'),
    h('p', {}, h('a', { class: 'button primary', href: '/' }, 'Go to the home page'))));
  document.title = `${what} not found · reel`;
}

/** A block saying a load failed, with a Retry button. */
export function loadFailed(err, retry) {
  return stateBlock({
    title: 'Could not load this',
    message: err.message,
    action: h('button', { type: 'button', class: 'button secondary', onclick: retry }, 'Try again'),
  });
}
