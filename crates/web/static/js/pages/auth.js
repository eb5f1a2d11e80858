// /login and /register: one form; errors show next to the field they concern.
import { api, enc } from '../api.js';
import { flashNext, rememberUser } from '../layout.js';
import { fieldError, formError } from '../ui.js';

const form = document.getElementById('auth-form');
const registering = form.dataset.mode === 'register';
const nameInput = document.getElementById('user_name');
const pwdInput = document.getElementById('pwd');
const submit = document.getElementById('submit');
const errorBox = document.getElementById('form-error');
const NAME_RULE = /^[A-Za-z0-9_.-]{3,64}$/;

/**
 * Where to go afterwards: a path of this site only, never another origin. Browsers drop
 * tabs and line breaks from URLs and read `\` as `/`, so `/\t/evil.example` and
 * `/\evil.example` lead off-site as surely as `//evil.example`; the value must pass as
 * given and once more decoded (the server applies the same rule, src/next.rs), and
 * must still be on this origin once the browser has parsed it.
 */
function nextPath() {
  const next = new URLSearchParams(location.search).get('next');
  if (!next) return null;
  // eslint-disable-next-line no-control-regex
  const plain = (p) => /^\/(?![/\\])[^\\\u0000-\u001f\u007f-\u009f]*$/.test(p);
  let decoded;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return null;
  }
  if (!plain(next) || !plain(decoded)) return null;
  const url = new URL(next, location.origin);
  return url.origin === location.origin ? `${url.pathname}${url.search}${url.hash}` : null;
}

const next = nextPath();
if (next) {
  const link = document.getElementById('switch-link');
  link.href = `${link.pathname}?next=${enc(next)}`;
}

document.getElementById('show-pwd').addEventListener('change', (e) => {
  pwdInput.type = e.target.checked ? 'text' : 'password';
});

function validate() {
  const name = nameInput.value.trim();
  let ok = true;
  if (!name) {
    fieldError(nameInput, 'Enter a user name.');
    ok = false;
  } else if (!NAME_RULE.test(name)) {
    fieldError(nameInput, 'Use 3 to 64 letters, digits, or _ . - (no spaces).');
    ok = false;
  } else {
    fieldError(nameInput, null);
  }
  const bytes = new TextEncoder().encode(pwdInput.value).length;
  if (!pwdInput.value) {
    fieldError(pwdInput, 'Enter a password.');
    ok = false;
  } else if (bytes < 8 || bytes > 256) {
    fieldError(pwdInput, bytes < 8 ? 'The password must have at least 8 characters.' : 'The password is too long (256 bytes at most).');
    ok = false;
  } else {
    fieldError(pwdInput, null);
  }
  return ok;
}

let lockedUntil = 0;

/** Too many tries: the button stays off, with a countdown, until the API allows again. */
function lockFor(seconds) {
  lockedUntil = Date.now() + seconds * 1000;
  submit.disabled = true;
  const tick = () => {
    const left = Math.ceil((lockedUntil - Date.now()) / 1000);
    if (left <= 0) {
      submit.disabled = false;
      formError(errorBox, null);
      return;
    }
    formError(errorBox, `Too many attempts. Try again in ${left} second${left === 1 ? '' : 's'}.`);
    setTimeout(tick, 1000);
  };
  tick();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (Date.now() < lockedUntil) return;
  formError(errorBox, null);
  if (!validate()) {
    form.querySelector('[aria-invalid="true"]')?.focus();
    return;
  }
  const name = nameInput.value.trim();
  submit.disabled = true;
  submit.setAttribute('aria-busy', 'true');
  try {
    if (registering) {
      await api('POST', '/user', { user_name: name, pwd: pwdInput.value });
      flashNext(`Welcome to reel, ${name}!`);
    } else {
      await api('POST', `/user/${enc(name)}`, { pwd: pwdInput.value });
      flashNext(`Logged in as ${name}.`);
    }
    rememberUser(name);
    location.assign(next ?? `/u/${enc(name)}`);
    return;
  } catch (err) {
    if (err.code === 'conflict') {
      fieldError(nameInput, 'This name is taken. Pick another one.');
      nameInput.focus();
    } else if (err.code === 'wrong_credentials') {
      formError(errorBox, 'Wrong user name or password.');
      pwdInput.value = '';
      pwdInput.focus();
    } else if (err.status === 429) {
      lockFor(err.retryAfter ?? 60);
      return;
    } else {
      formError(errorBox, err.message);
    }
  } finally {
    submit.removeAttribute('aria-busy');
  }
  if (Date.now() >= lockedUntil) submit.disabled = false;
});
