// /watch/{name}/{vid}: the player, the video's details and its comments.
import { api, enc, sentence } from '../api.js';
import { currentUser, forgetUser, loginLink } from '../layout.js';
import { attachPlayer } from '../player.js';
import {
  confirmDialog, fieldError, formatDuration, h, loadFailed, shortDate, showNotFound, stateBlock, timeAgo, toast,
} from '../ui.js';
import { pagedList } from '../videos.js';

const PAGE = 20;
const root = document.getElementById('watch');
const author = root.dataset.user;
const vid = root.dataset.video;
const player = document.getElementById('player');
const playerStatus = document.getElementById('player-status');
let video = null;

document.getElementById('comment-login').href = loginLink();

function showOverPlayer(message) {
  playerStatus.replaceChildren(h('p', {}, message));
  playerStatus.hidden = !message;
}

function describe(v) {
  document.getElementById('video-title').textContent = v.name;
  document.title = `${v.name} · reel`;
  const facts = [shortDate(v.display_ctime)];
  if (Number.isFinite(v.duration)) facts.push(formatDuration(v.duration));
  if (v.width && v.height) facts.push(`${v.width}×${v.height}`);
  const meta = document.getElementById('video-meta');
  meta.replaceChildren(...facts.flatMap((f, i) => (i ? [h('span', { 'aria-hidden': 'true' }, ' · '), f] : [f])));
}

async function load() {
  try {
    video = await api('GET', `/user/${enc(author)}/videos/${enc(vid)}`);
  } catch (err) {
    if (err.status === 404 || err.status === 400) {
      showNotFound('Video');
      return false;
    }
    showOverPlayer(err.message);
    return false;
  }
  describe(video);
  if (video.status === 'ready') {
    showOverPlayer(null);
    await attachPlayer(player, video.playback, {
      choice: document.getElementById('source'),
      choiceBox: document.getElementById('source-choice'),
      report: showOverPlayer,
    });
    return true;
  }
  // Only the owner sees a video before it is ready.
  const waiting = {
    awaiting_upload: 'This video has not been uploaded yet.',
    processing: `This video is being processed (${video.progress ?? 0}%). It plays as soon as it is ready.`,
    failed: `Processing this video failed${video.failure ? `: ${sentence(video.failure)}` : '.'}`,
  }[video.status];
  showOverPlayer(waiting ?? 'This video cannot be played yet.');
  if (video.status !== 'failed') setTimeout(load, 3000);
  return true;
}

// ---- comments ---------------------------------------------------------------------
const commentList = document.getElementById('comments');
const commentState = document.getElementById('comments-state');

function mayDelete(comment) {
  const me = currentUser();
  return Boolean(me) && (me === comment.author || me === author);
}

function commentItem(comment) {
  const li = h('li', { class: 'comment', dataset: { comment: comment.id } },
    h('div', { class: 'comment-head' },
      h('span', { class: 'avatar avatar-sm', 'aria-hidden': 'true' }, comment.author[0].toUpperCase()),
      h('a', { class: 'comment-author', href: `/u/${enc(comment.author)}` }, comment.author),
      comment.author === author ? h('span', { class: 'badge' }, 'Author') : null,
      h('time', { datetime: comment.time, title: new Date(comment.time).toLocaleString() }, timeAgo(comment.time))),
    h('p', { class: 'comment-text' }, comment.content));
  if (mayDelete(comment)) {
    li.append(h('button', {
      type: 'button',
      class: 'button ghost danger-text small comment-delete',
      'aria-label': `Delete comment by ${comment.author}`,
      onclick: () => removeComment(comment, li),
    }, 'Delete'));
  }
  return li;
}

function noComments() {
  return stateBlock({ title: 'No comments yet', message: currentUser() ? 'Start the conversation.' : 'Log in to start the conversation.' });
}

const comments = pagedList({
  list: commentList,
  moreButton: document.getElementById('more-comments'),
  stateBox: commentState,
  load: async (cursor) => {
    const query = cursor ? `&cursor=${enc(cursor)}` : '';
    const page = await api('GET', `/videos/${enc(vid)}/comments?limit=${PAGE}${query}`);
    return { items: page.comments, next: page.next_cursor };
  },
  render: commentItem,
  empty: noComments,
  onError: loadFailed,
});

async function removeComment(comment, li) {
  const yes = await confirmDialog({
    title: 'Delete this comment?',
    message: `“${comment.content.length > 80 ? `${comment.content.slice(0, 80)}…` : comment.content}”`,
    confirm: 'Delete comment',
  });
  if (!yes) return;
  try {
    await api('DELETE', `/videos/${enc(vid)}/comments/${enc(comment.id)}`);
  } catch (err) {
    if (err.status !== 404) {
      toast(err.message);
      return;
    }
  }
  li.remove();
  if (!commentList.children.length) commentState.replaceChildren(noComments());
  document.getElementById('comments-title').focus();
  toast('Comment deleted.');
}

const form = document.getElementById('comment-form');
const text = document.getElementById('comment-text');
const post = document.getElementById('comment-submit');
document.getElementById('comments-title').tabIndex = -1;

text.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) form.requestSubmit();
});

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const content = text.value.trim();
  if (!content) {
    fieldError(text, 'Write something first.');
    text.focus();
    return;
  }
  fieldError(text, null);
  post.disabled = true;
  try {
    const comment = await api('POST', `/videos/${enc(vid)}/comments`, { content });
    commentState.replaceChildren();
    commentList.prepend(commentItem(comment));
    text.value = '';
    toast('Comment posted.');
  } catch (err) {
    if (err.status === 401) {
      forgetUser();
      fieldError(text, 'Your session has ended: log in again to post.');
    } else {
      fieldError(text, err.message);
    }
  } finally {
    post.disabled = false;
  }
});

// Who may delete which comment changed: draw them again.
document.addEventListener('reel:auth', () => {
  if (video) comments.reload();
});

load().then((found) => {
  if (found) comments.page();
});
