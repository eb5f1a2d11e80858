// Video cards and lists, shared by the home page and the users' pages.
import { enc } from './api.js';
import { formatDuration, h, shortDate } from './ui.js';

/** The watch page of a video. */
export function watchUrl(video) {
  return `/watch/${enc(video.author)}/${enc(video.id)}`;
}

/** The poster, or a neutral placeholder while there is none (not processed yet). */
export function thumb(video, extra = null) {
  const frame = h('div', { class: 'thumb' }, extra);
  const poster = video.playback?.poster;
  if (poster) {
    const img = h('img', { src: poster, alt: '', loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => img.remove(), { once: true });
    frame.prepend(img);
  }
  if (Number.isFinite(video.duration)) {
    frame.append(h('span', { class: 'duration' }, formatDuration(video.duration)));
  }
  return frame;
}

/** A card for the grids: poster, duration, title, author, date. */
export function videoCard(video, { showAuthor = true } = {}) {
  return h('li', { class: 'card', dataset: { video: video.id } },
    h('a', { class: 'card-link', href: watchUrl(video) },
      thumb(video),
      h('h3', { class: 'card-title' }, video.name)),
    h('p', { class: 'card-meta' },
      showAuthor ? h('a', { href: `/u/${enc(video.author)}`, class: 'card-author' }, video.author) : null,
      showAuthor ? ' · ' : null,
      h('span', {}, shortDate(video.display_ctime))));
}

/**
 * Drives a paginated list: `load(cursor)` resolves to { items, next }; `render(item)`
 * makes an element. The "Show more" button fetches the next page and moves focus to
 * the first new item, so keyboard users continue where they were.
 */
export function pagedList({ list, moreButton, stateBox, load, render, empty, onError }) {
  let cursor = null;
  let first = true;
  // A reload while a page is on its way makes that page stale: it is dropped.
  let generation = 0;
  async function page() {
    const mine = generation;
    moreButton.disabled = true;
    list.setAttribute('aria-busy', 'true');
    try {
      const { items, next } = await load(cursor);
      if (mine !== generation) return;
      if (first) list.replaceChildren();
      const elements = items.map(render);
      list.append(...elements);
      if (!first && elements[0]) {
        const focusable = elements[0].querySelector('a, button') ?? elements[0];
        focusable.focus();
      }
      first = false;
      cursor = next;
      moreButton.hidden = !next;
      stateBox.replaceChildren();
      if (!list.children.length) stateBox.append(empty());
    } catch (err) {
      if (mine !== generation) return;
      if (first) list.replaceChildren();
      stateBox.replaceChildren(onError(err, page));
    } finally {
      if (mine === generation) {
        moreButton.disabled = false;
        list.setAttribute('aria-busy', 'false');
      }
    }
  }
  moreButton.addEventListener('click', page);
  return {
    reload() {
      generation += 1;
      cursor = null;
      first = true;
      return page();
    },
    page,
  };
}
