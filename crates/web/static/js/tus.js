// A small tus 1.0 client (core protocol and creation): POST creates the upload, PATCH
// sends the file in chunks from the offset the server has, HEAD asks for that offset
// again after a pause, a lost connection or a page reload. XMLHttpRequest rather than
// fetch, because only it reports upload progress.

const TUS_VERSION = '1.0.0';
const CHUNK_BYTES = 16 * 1024 * 1024;
const RETRY_DELAYS_MS = [1000, 3000, 5000, 10000];
const STORE_PREFIX = 'reel.tus.';

/** An upload that cannot succeed by trying again (too large, not a video, refused). */
class UploadRefused extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** A failed request that may succeed later (network, 5xx, 429, offset race). */
class Retryable extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

class Aborted extends Error {}

function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function sleep(ms, upload) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    upload.wake = () => { clearTimeout(timer); resolve(); };
  });
}

function errorOf(status, bodyText, retryAfterHeader) {
  let body = null;
  try { body = JSON.parse(bodyText); } catch (_) { /* not JSON */ }
  const code = body?.code ?? `http_${status}`;
  const message = body?.error ?? `upload request failed (${status})`;
  if (status === 0 || status >= 500 || status === 429 || status === 409 || status === 404
      || status === 410 || code === 'expired_token') {
    return new Retryable(status, code, message, Number(retryAfterHeader) || null);
  }
  return new UploadRefused(status, code, message);
}

/**
 * One file to one video. `uploadUrl` is the API's `upload_url`
 * (`/upload/{vid}?token=…`); `refreshUrl()` fetches a fresh one when the token expires.
 * Callbacks: `onProgress(sentBytes, totalBytes)`, `onState(state, error)` with state
 * one of uploading, paused, retrying, stalled, done, failed.
 */
export class TusUpload {
  constructor(file, { videoId, uploadUrl, refreshUrl, onProgress = () => {}, onState = () => {} }) {
    this.file = file;
    this.videoId = videoId;
    this.refreshUrl = refreshUrl;
    this.onProgress = onProgress;
    this.onState = onState;
    this.useUploadUrl(uploadUrl);
    this.location = this.remembered();
    this.offset = null;
    this.paused = true;
    this.running = null;
    this.xhr = null;
    this.wake = null;
    this.state = 'paused';
  }

  useUploadUrl(uploadUrl) {
    const url = new URL(uploadUrl, location.href);
    this.token = url.searchParams.get('token') ?? '';
    this.endpoint = `${url.origin}${url.pathname}/tus`;
  }

  /** Starts, or resumes after pause(); resolves when this run stops. */
  start() {
    this.paused = false;
    if (!this.running) this.running = this.run().finally(() => { this.running = null; });
    return this.running;
  }

  /** Stops sending; the server keeps what it has, and start() goes on from there. */
  pause() {
    this.paused = true;
    this.xhr?.abort();
    this.wake?.();
    this.setState('paused');
  }

  /** Stops and discards the upload on the server. */
  async cancel() {
    this.pause();
    await this.running;
    if (this.location) {
      await fetch(this.location, { method: 'DELETE', headers: this.headers() }).catch(() => {});
    }
    this.forget();
  }

  setState(state, error = null) {
    this.state = state;
    this.onState(state, error);
  }

  headers(extra = {}) {
    return { 'Tus-Resumable': TUS_VERSION, Authorization: `Bearer ${this.token}`, ...extra };
  }

  async run() {
    let attempt = 0;
    while (!this.paused) {
      try {
        this.setState('uploading');
        if (!this.location) {
          this.location = await this.create();
          this.offset = 0;
          this.remember();
        }
        if (this.offset === null) this.offset = await this.head();
        this.onProgress(this.offset, this.file.size);
        while (this.offset < this.file.size && !this.paused) {
          this.offset = await this.patch(this.offset);
          attempt = 0;
        }
        if (this.offset >= this.file.size) {
          this.forget();
          this.setState('done');
        }
        return;
      } catch (err) {
        if (this.paused || err instanceof Aborted) {
          // The server kept part of the interrupted PATCH: ask it where to go on from.
          this.offset = null;
          return;
        }
        if (err instanceof UploadRefused) {
          this.forget();
          this.setState('failed', err);
          return;
        }
        if (err.status === 404 || err.status === 410) {
          // The server no longer has this upload (expired or discarded): start over.
          this.forget();
          this.location = null;
        }
        if (err.code === 'expired_token' && this.refreshUrl) {
          try {
            this.useUploadUrl(await this.refreshUrl());
            continue;
          } catch (refreshErr) {
            this.paused = true;
            this.setState('stalled', refreshErr);
            return;
          }
        }
        this.offset = null;
        if (attempt >= RETRY_DELAYS_MS.length) {
          this.paused = true;
          this.setState('stalled', err);
          return;
        }
        this.setState('retrying', err);
        const delay = err.retryAfter ? err.retryAfter * 1000 : RETRY_DELAYS_MS[attempt];
        attempt += 1;
        await sleep(delay, this);
      }
    }
  }

  async create() {
    const metadata = `filename ${base64(this.file.name)},filetype ${base64(this.file.type || 'application/octet-stream')}`;
    const response = await this.request('POST', this.endpoint, this.headers({
      'Upload-Length': String(this.file.size),
      'Upload-Metadata': metadata,
    }));
    const where = response.headers.get('location');
    if (response.status !== 201 || !where) throw errorOf(response.status, await response.text(), null);
    const url = new URL(where, this.endpoint);
    return `${url.origin}${url.pathname}`;
  }

  async head() {
    const response = await this.request('HEAD', this.location, this.headers());
    if (response.status !== 200) throw errorOf(response.status, '', response.headers.get('retry-after'));
    const offset = Number(response.headers.get('upload-offset'));
    if (!Number.isFinite(offset)) throw new Retryable(0, 'bad_offset', 'the server sent no offset');
    return offset;
  }

  async request(method, url, headers) {
    try {
      const response = await fetch(url, { method, headers, credentials: 'same-origin', cache: 'no-store' });
      if (!response.ok) {
        throw errorOf(response.status, await response.text(), response.headers.get('retry-after'));
      }
      return response;
    } catch (err) {
      if (err instanceof Retryable || err instanceof UploadRefused) throw err;
      throw new Retryable(0, 'network', 'the connection was lost');
    }
  }

  patch(offset) {
    return new Promise((resolve, reject) => {
      const end = Math.min(offset + CHUNK_BYTES, this.file.size);
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open('PATCH', this.location);
      const headers = this.headers({
        'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream',
      });
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener('progress', (e) => this.onProgress(offset + e.loaded, this.file.size));
      xhr.addEventListener('load', () => {
        this.xhr = null;
        const next = Number(xhr.getResponseHeader('upload-offset'));
        if (xhr.status === 204 && Number.isFinite(next)) resolve(next);
        else reject(errorOf(xhr.status, xhr.responseText, xhr.getResponseHeader('retry-after')));
      });
      xhr.addEventListener('error', () => { this.xhr = null; reject(new Retryable(0, 'network', 'the connection was lost')); });
      xhr.addEventListener('abort', () => { this.xhr = null; reject(new Aborted()); });
      xhr.send(this.file.slice(offset, end));
    });
  }

  /** The upload begun for this same file on an earlier visit, if any. */
  remembered() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_PREFIX + this.videoId));
      const f = this.file;
      if (saved && saved.size === f.size && saved.name === f.name && saved.modified === f.lastModified) {
        return saved.location;
      }
    } catch (_) { /* nothing saved */ }
    return null;
  }

  remember() {
    const f = this.file;
    try {
      localStorage.setItem(STORE_PREFIX + this.videoId, JSON.stringify({
        location: this.location, size: f.size, name: f.name, modified: f.lastModified,
      }));
    } catch (_) { /* resumable within this page only */ }
  }

  forget() {
    try { localStorage.removeItem(STORE_PREFIX + this.videoId); } catch (_) { /* nothing */ }
  }
}
