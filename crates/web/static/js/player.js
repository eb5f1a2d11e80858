// The player: the MP4 through the browser's own <video> (the stream server answers
// range requests, so seeking is instant), or the HLS renditions when the scheduler
// made them: natively where the browser plays HLS, else through the vendored hls.js,
// loaded only then. Any HLS failure falls back to the MP4.

const HLS_TYPE = 'application/vnd.apple.mpegurl';

/**
 * Plays in `video` the URLs the API gave for this reader (`playback`: mp4, and hls
 * when the scheduler made it). `choice` (a <select> with hls/mp4 options) lets the
 * viewer switch; `report(message)` shows a problem over the player.
 */
export async function attachPlayer(video, playback, { choice, choiceBox, report }) {
  const { mp4 } = playback;
  const master = playback.hls;
  const hasHls = Boolean(master);
  if (playback.poster) video.poster = playback.poster;
  let hls = null;

  async function use(kind) {
    const at = video.currentTime;
    const playing = !video.paused;
    hls?.destroy();
    hls = null;
    video.removeAttribute('src');
    if (kind === 'hls' && video.canPlayType(HLS_TYPE)) {
      video.src = master;
      video.dataset.source = 'hls-native';
    } else if (kind === 'hls') {
      let Hls;
      try {
        ({ default: Hls } = await import('../vendor/hls.js/hls.min.mjs'));
      } catch (_) {
        return use('mp4');
      }
      if (!Hls.isSupported()) return use('mp4');
      hls = new Hls({ capLevelToPlayerSize: true });
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) {
          choice.value = 'mp4';
          use('mp4');
        }
      });
      hls.loadSource(master);
      hls.attachMedia(video);
      video.dataset.source = 'hls.js';
    } else {
      video.src = mp4;
      video.dataset.source = 'mp4';
    }
    if (at > 0 || playing) {
      video.addEventListener('loadedmetadata', () => {
        if (at > 0) video.currentTime = at;
        if (playing) video.play().catch(() => {});
      }, { once: true });
    }
    return undefined;
  }

  video.addEventListener('error', () => {
    if (video.dataset.source === 'mp4') report('This video cannot be played in this browser.');
  });
  choice.value = hasHls ? 'hls' : 'mp4';
  choiceBox.hidden = !hasHls;
  choice.addEventListener('change', () => use(choice.value));
  await use(choice.value);
}
