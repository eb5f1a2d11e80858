// /: everyone's recent ready videos, newest first.
import { api, enc } from '../api.js';
import { currentUser } from '../layout.js';
import { h, loadFailed, stateBlock } from '../ui.js';
import { pagedList, videoCard } from '../videos.js';

const PAGE = 24;

const list = pagedList({
  list: document.getElementById('videos'),
  moreButton: document.getElementById('more'),
  stateBox: document.getElementById('videos-state'),
  load: async (cursor) => {
    const query = cursor ? `&cursor=${enc(cursor)}` : '';
    const page = await api('GET', `/videos?limit=${PAGE}${query}`);
    return { items: page.videos, next: page.next_cursor };
  },
  render: (video) => videoCard(video),
  empty: () => {
    const me = currentUser();
    return stateBlock({
      title: 'No videos yet',
      message: 'Be the first to share one.',
      action: me
        ? h('a', { class: 'button primary', href: `/u/${enc(me)}#upload` }, 'Upload a video')
        : h('a', { class: 'button primary', href: '/register' }, 'Create an account'),
    });
  },
  onError: loadFailed,
});
list.page();
