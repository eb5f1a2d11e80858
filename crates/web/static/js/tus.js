// Resumable uploads with tus-js-client (vendored, see vendor/tus-js-client/README.md):
// the library speaks tus 1.0 (POST creates the upload, PATCH sends the file in chunks
// from the offset the server has, HEAD asks for that offset again after a pause, a lost
// connection or a page reload) and remembers unfinished uploads across visits. This
// module only fits it to the page: the upload token, the states the page shows, and the
// server's JSON errors.

import '../vendor/tus-js-client/tus.min.js';

// The bundle is a UMD script: loaded as a module, it leaves its exports on `window`.
const { Upload } = window.tus;

const CHUNK_BYTES = 16 * 1024 * 1024;
const RETRY_DELAYS_MS = [1000, 3000, 5000, 10000];

/** The server's answer to a failed request: `{status, code, message}`. */
function errorOf(err) {
  const response = err?.originalResponse;
  const status = response ? response.getStatus() : 0;
  let body = null;
  try { body = JSON.parse(response?.getBody() ?? ''); } catch (_) { /* not JSON */ }
  const error = new Error(body?.error ?? (status ? `upload request failed (${status})` : 'the connection was lost'));
  error.status = status;
  error.code = body?.code ?? (status ? `http_${status}` : 'network');
  return error;
}

/** Whether trying again may help: no answer, a server error, or a passing conflict. */
function retryable({ status, code }) {
  return status === 0 || status >= 500 || [404, 409, 410, 423, 429].includes(status)
    || code === 'expired_token';
}

/**
 * One file to one video. `uploadUrl` is the API's `upload_url`
 * (`/upload/{vid}?token=…`); `refreshUrl()` fetches a fresh one when the token expires.
 * Callbacks: `onProgress(sentBytes, totalBytes)`, `onState(state, error)` with state
 * one of uploading, paused, retrying, stalled, done, failed.
 */
export class TusUpload {
  constructor(file, { uploadUrl, refreshUrl, onProgress = () => {}, onState = () => {} }) {
    this.file = file;
    this.refreshUrl = refreshUrl;
    this.onState = onState;
    this.state = 'paused';
    this.resumed = false;
    this.useUploadUrl(uploadUrl);
    this.upload = new Upload(file, {
      endpoint: this.endpoint,
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      metadata: { filename: file.name, filetype: file.type || 'application/octet-stream' },
      removeFingerprintOnSuccess: true,
      onBeforeRequest: (req) => req.setHeader('Authorization', `Bearer ${this.token}`),
      onProgress: (sent, total) => {
        if (this.state === 'retrying') this.setState('uploading');
        onProgress(sent, total);
      },
      onShouldRetry: (err) => {
        const error = errorOf(err);
        if (error.code === 'expired_token' || !retryable(error)) return false;
        this.setState('retrying', error);
        return true;
      },
      onError: (err) => this.failed(errorOf(err)),
      onSuccess: () => this.setState('done'),
    });
  }

  useUploadUrl(uploadUrl) {
    const url = new URL(uploadUrl, location.href);
    this.token = url.searchParams.get('token') ?? '';
    this.endpoint = `${url.origin}${url.pathname}/tus`;
  }

  /** Starts, going on from an upload of this file begun on an earlier visit, if any;
   * or resumes after pause(). */
  async start() {
    this.setState('uploading');
    if (!this.resumed) {
      this.resumed = true;
      const [previous] = await this.upload.findPreviousUploads();
      if (previous) this.upload.resumeFromPreviousUpload(previous);
    }
    if (this.state === 'uploading') this.upload.start();
  }

  /** Stops sending; the server keeps what it has, and start() goes on from there. */
  pause() {
    this.setState('paused');
    this.upload.abort();
  }

  /** Stops and discards the upload on the server. */
  async cancel() {
    this.setState('paused');
    await this.upload.abort(true).catch(() => {});
  }

  async failed(error) {
    if (this.state === 'paused') return;
    if (error.code === 'expired_token' && this.refreshUrl) {
      try {
        this.useUploadUrl(await this.refreshUrl());
        this.upload.start();
      } catch (refreshErr) {
        this.setState('stalled', refreshErr);
      }
      return;
    }
    this.setState(retryable(error) ? 'stalled' : 'failed', error);
  }

  setState(state, error = null) {
    this.state = state;
    this.onState(state, error);
  }
}
