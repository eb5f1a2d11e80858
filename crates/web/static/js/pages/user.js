// /u/{name}: a user's videos. Their owner also gets the upload form, every video
// whatever its status (with upload progress, pause and resume, then the processing
// status until ready or failed) and delete buttons.
import { api, enc, sentence } from '../api.js';
import { currentUser, forgetUser, loginLink } from '../layout.js';
import { TusUpload } from '../tus.js';
import {
  confirmDialog, fieldError, formError, formatBytes, h, loadFailed, showNotFound, stateBlock, toast,
} from '../ui.js';
import { pagedList, thumb, videoCard, watchUrl } from '../videos.js';

const PAGE = 24;
const POLL_MS = 2000;
const owner = document.getElementById('user-page').dataset.user;
const listEl = document.getElementById('videos');
const stateBox = document.getElementById('videos-state');
const heading = document.getElementById('videos-title');
heading.tabIndex = -1;

/** The owner's videos on this page, by id. */
const owned = new Map();
let asOwner = false;

/** A video in its owner's list: its card, its upload if one runs here, its polling. */
class OwnedVideo {
  constructor(video) {
    this.video = video;
    this.upload = null;
    this.sent = 0;
    this.speed = 0;
    this.lastSample = null;
    this.timer = null;
    this.failure = null;
    this.el = h('li', { class: 'card owned', dataset: { video: video.id, status: video.status } });
    owned.set(video.id, this);
    this.schedulePoll();
    this.render();
  }

  get title() { return this.video.name; }

  /** What the card shows: the upload's state while it runs here, else the server's. */
  phase() {
    const up = this.upload?.state;
    if (up === 'uploading' || up === 'retrying' || up === 'paused' || up === 'stalled') return up;
    if (up === 'failed') return 'upload-failed';
    const { status } = this.video;
    if (status === 'awaiting_upload') return up === 'done' ? 'queued' : 'incomplete';
    if (status === 'uploaded') return 'queued';
    // Ready to watch while the other sizes and the poster are still being made.
    if (status === 'ready' && !this.video.processed && this.video.progress != null) return 'playable';
    return status;
  }

  startUpload(file) {
    this.upload = new TusUpload(file, {
      uploadUrl: this.video.upload_url,
      refreshUrl: async () => {
        const fresh = await api('GET', `/user/${enc(owner)}/videos/${enc(this.video.id)}`);
        if (!fresh.upload_url) throw new Error('This video no longer takes an upload.');
        return fresh.upload_url;
      },
      onProgress: (sent) => this.progress(sent),
      onState: (state, error) => this.uploadState(state, error),
    });
    this.upload.start();
  }

  progress(sent) {
    const now = performance.now();
    if (this.lastSample && now > this.lastSample.t) {
      const rate = ((sent - this.lastSample.sent) * 1000) / (now - this.lastSample.t);
      if (rate >= 0) this.speed = this.speed ? this.speed * 0.8 + rate * 0.2 : rate;
    }
    this.lastSample = { t: now, sent };
    this.sent = sent;
    this.renderStatus();
  }

  uploadState(state, error) {
    const final = ['too_large', 'quota_exceeded', 'not_video'];
    if (state === 'failed' && final.includes(error?.code)) {
      this.refused(error);
      return;
    }
    this.failure = state === 'failed' || state === 'stalled' ? error : null;
    if (state !== 'uploading') this.lastSample = null;
    if (state === 'done') {
      toast(`“${this.title}” is uploaded. Processing comes next.`);
      this.schedulePoll();
    }
    this.render();
  }

  /**
   * The server will never take this file (too large, or not a video): the video is
   * removed again, and the form says why, next to the file it came from.
   */
  async refused(error) {
    const file = this.upload.file;
    let message;
    if (error.code === 'too_large') {
      const limit = /(\d+) bytes/.exec(error.message);
      message = `“${file.name}” is too large (${formatBytes(file.size)})`
        + (limit ? `: the limit is ${formatBytes(Number(limit[1]))}.` : '.');
    } else if (error.code === 'quota_exceeded') {
      const room = /(\d+) bytes/.exec(error.message);
      message = `“${file.name}” (${formatBytes(file.size)}) does not fit in your storage quota`
        + (room ? `: ${formatBytes(Number(room[1]))} left.` : '.')
        + ' Delete videos to make room.';
    } else {
      message = `“${file.name}” is not a video reel can take. Use MP4, MOV, WebM, Matroska, AVI, MPEG-TS, FLV or Ogg.`;
    }
    this.upload = null;
    await api('DELETE', `/user/${enc(owner)}/videos/${enc(this.video.id)}`).catch(() => {});
    this.destroy();
    const box = document.getElementById('upload-error');
    formError(box, message);
    const input = document.getElementById('video-file');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }

  schedulePoll() {
    clearTimeout(this.timer);
    const phase = this.phase();
    if (phase === 'queued' || phase === 'processing' || phase === 'playable') {
      this.timer = setTimeout(() => this.poll(), POLL_MS);
    }
  }

  async poll() {
    try {
      const video = await api('GET', `/user/${enc(owner)}/videos/${enc(this.video.id)}`);
      const was = this.video.status;
      this.video = { ...video, upload_url: video.upload_url ?? this.video.upload_url };
      if (was !== 'ready' && video.status === 'ready') toast(`“${this.title}” is ready to watch.`);
      if (was !== 'failed' && video.status === 'failed') toast(`Processing “${this.title}” failed.`);
      this.render();
    } catch (err) {
      if (err.status === 404) {
        this.destroy();
        return;
      }
    }
    this.schedulePoll();
  }

  async remove() {
    const yes = await confirmDialog({
      title: 'Delete this video?',
      message: `“${this.title}” and its comments will be deleted for good.`,
      confirm: 'Delete video',
    });
    if (!yes) return;
    if (this.upload) await this.upload.cancel();
    try {
      await api('DELETE', `/user/${enc(owner)}/videos/${enc(this.video.id)}`);
    } catch (err) {
      if (err.status !== 404) {
        toast(err.message);
        return;
      }
    }
    this.destroy();
    toast(`Deleted “${this.title}”.`);
    heading.focus();
  }

  destroy() {
    clearTimeout(this.timer);
    this.upload?.pause();
    owned.delete(this.video.id);
    this.el.remove();
    if (!listEl.children.length) stateBox.replaceChildren(emptyState());
  }

  resumeFromFile() {
    const input = h('input', { type: 'file', accept: 'video/*', hidden: true });
    input.addEventListener('change', () => {
      const [file] = input.files;
      if (file) this.startUpload(file);
    }, { once: true });
    this.el.append(input);
    input.click();
  }

  render() {
    const v = this.video;
    const phase = this.phase();
    this.el.dataset.status = phase;
    const status = h('div', { class: 'card-status' });
    this.statusEl = status;
    const actions = h('div', { class: 'card-actions' });
    if (phase === 'uploading' || phase === 'retrying') {
      actions.append(h('button', { type: 'button', class: 'button secondary small', onclick: () => this.upload.pause() }, 'Pause'));
    } else if (phase === 'paused' || phase === 'stalled') {
      actions.append(h('button', { type: 'button', class: 'button primary small', onclick: () => this.upload.start() }, 'Resume'));
    } else if ((phase === 'incomplete' || phase === 'upload-failed') && v.upload_url) {
      const label = phase === 'incomplete' ? 'Resume upload…' : 'Try again…';
      actions.append(h('button', { type: 'button', class: 'button secondary small', onclick: () => this.resumeFromFile() }, label));
    }
    actions.append(h('button', {
      type: 'button', class: 'button ghost danger-text small', onclick: () => this.remove(), 'aria-label': `Delete “${v.name}”`,
    }, 'Delete'));
    this.el.replaceChildren(
      h('a', { class: 'card-link', href: watchUrl(v) }, thumb(v), h('h3', { class: 'card-title' }, v.name)),
      status,
      actions,
    );
    this.renderStatus();
  }

  renderStatus() {
    if (!this.statusEl) return;
    const phase = this.phase();
    const total = this.upload?.file.size ?? this.video.size ?? 0;
    const pct = total ? Math.floor((this.sent / total) * 100) : 0;
    const bar = (value, label) => h('progress', { max: 100, value, 'aria-label': label });
    let parts;
    switch (phase) {
      case 'uploading':
        parts = [
          h('span', { class: 'badge info' }, `Uploading ${pct}%`),
          bar(pct, `Upload of ${this.title}`),
          h('span', { class: 'detail' }, `${formatBytes(this.sent)} of ${formatBytes(total)}`
            + (this.speed > 0 ? ` · ${formatBytes(this.speed)}/s` : '')),
        ];
        break;
      case 'retrying':
        parts = [h('span', { class: 'badge warn' }, `Reconnecting… ${pct}%`), bar(pct, `Upload of ${this.title}`)];
        break;
      case 'paused':
        parts = [h('span', { class: 'badge' }, `Paused at ${pct}%`), bar(pct, `Upload of ${this.title}`)];
        break;
      case 'stalled':
        parts = [h('span', { class: 'badge warn' }, `Stopped at ${pct}%`),
          h('span', { class: 'detail' }, `${sentence(this.failure?.message ?? 'The connection was lost')} Press Resume to go on.`)];
        break;
      case 'upload-failed':
        parts = [h('span', { class: 'badge error' }, 'Upload failed'),
          h('span', { class: 'detail' }, sentence(this.failure?.message ?? 'The server refused the upload'))];
        break;
      case 'incomplete':
        parts = [h('span', { class: 'badge warn' }, 'Upload not finished'),
          h('span', { class: 'detail' }, 'Choose the same file again to resume.')];
        break;
      case 'queued':
        parts = [h('span', { class: 'badge info' }, 'Uploaded · waiting to be processed')];
        break;
      case 'processing': {
        const p = this.video.progress ?? 0;
        parts = [h('span', { class: 'badge info' }, `Processing ${p}%`), bar(p, `Processing of ${this.title}`)];
        break;
      }
      case 'playable': {
        const p = this.video.progress ?? 0;
        parts = [h('span', { class: 'badge ok' }, 'Ready'),
          bar(p, `More sizes of ${this.title}`),
          h('span', { class: 'detail' }, `Making more sizes and the poster · ${p}%`)];
        break;
      }
      case 'failed':
        parts = [h('span', { class: 'badge error' }, 'Processing failed'),
          this.video.failure ? h('span', { class: 'detail' }, sentence(this.video.failure)) : null];
        break;
      default:
        parts = [h('span', { class: 'badge ok' }, 'Ready'),
          h('span', { class: 'detail' }, formatBytes(this.video.size ?? NaN))];
    }
    this.statusEl.replaceChildren(...parts);
  }
}

function emptyState() {
  return asOwner
    ? stateBlock({ title: 'No videos yet', message: 'Upload your first one with the form above.' })
    : stateBlock({ title: 'No videos yet', message: `${owner} has not shared any videos yet.` });
}

const list = pagedList({
  list: listEl,
  moreButton: document.getElementById('more'),
  stateBox,
  load: async (cursor) => {
    const query = cursor ? `&cursor=${enc(cursor)}` : '';
    const page = await api('GET', `/user/${enc(owner)}/videos?limit=${PAGE}${query}`);
    return { items: page.videos, next: page.next_cursor };
  },
  render: (video) => (asOwner ? new OwnedVideo(video).el : videoCard(video, { showAuthor: false })),
  empty: emptyState,
  onError: (err, retry) => {
    if (err.status === 404) {
      showNotFound('User');
      return document.createComment('not found');
    }
    return loadFailed(err, retry);
  },
});

/** Shows the page as its owner sees it, or as anyone else does. */
function show() {
  asOwner = currentUser() === owner;
  for (const el of document.querySelectorAll('.owner-only')) el.hidden = !asOwner;
  document.title = `${asOwner ? 'Your videos' : owner} · reel`;
  for (const item of owned.values()) clearTimeout(item.timer);
  owned.clear();
  return list.reload();
}

// ---- the upload form ------------------------------------------------------------
const form = document.getElementById('upload-form');
const fileInput = document.getElementById('video-file');
const titleInput = document.getElementById('video-title');
const uploadError = document.getElementById('upload-error');
const uploadButton = document.getElementById('upload-submit');

fileInput.addEventListener('change', () => {
  const [file] = fileInput.files;
  fieldError(fileInput, null);
  formError(uploadError, null);
  if (file && !titleInput.value.trim()) {
    titleInput.value = file.name.replace(/\.[^.]+$/, '').replace(/[_]+/g, ' ').slice(0, 200);
  }
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  formError(uploadError, null);
  const [file] = fileInput.files;
  const title = titleInput.value.trim();
  fieldError(fileInput, file ? null : 'Choose a video file.');
  fieldError(titleInput, title ? null : 'Give the video a title.');
  if (!file) { fileInput.focus(); return; }
  if (!title) { titleInput.focus(); return; }
  uploadButton.disabled = true;
  try {
    const video = await api('POST', `/user/${enc(owner)}/videos`, { name: title });
    const item = new OwnedVideo(video);
    stateBox.replaceChildren();
    listEl.prepend(item.el);
    item.startUpload(file);
    form.reset();
  } catch (err) {
    if (err.status === 401) {
      forgetUser();
      formError(uploadError, 'Your session has ended.');
      uploadError.append(' ', h('a', { href: loginLink() }, 'Log in again'), ' to upload.');
    } else {
      formError(uploadError, err.message);
    }
  } finally {
    uploadButton.disabled = false;
  }
});

window.addEventListener('beforeunload', (event) => {
  const busy = [...owned.values()].some((v) => v.upload && ['uploading', 'retrying'].includes(v.upload.state));
  if (busy) event.preventDefault();
});

document.addEventListener('reel:auth', (event) => {
  const nowOwner = event.detail.user === owner;
  const busy = [...owned.values()].some((v) => v.upload);
  if (nowOwner !== asOwner && !busy) show();
});

show().then(() => {
  if (asOwner && location.hash === '#upload') fileInput.focus();
});
