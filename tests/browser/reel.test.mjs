// reel in a real browser: Debian's Chromium driven by playwright-core against the
// `reel serve` that run.sh started (REEL_URL). The tests run in order and share one
// story: a user registers, uploads a clip made here with ffmpeg, watches it (it plays,
// and plays on after a seek to 80%), comments, deletes the comment and the video, and
// logs out; other visitors hit the error paths. Each page is saved as a screenshot in
// REEL_SCREENSHOTS.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';

const BASE = process.env.REEL_URL ?? 'http://127.0.0.1:8080';
const SHOTS = process.env.REEL_SCREENSHOTS ?? 'test-output/screenshots';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** How long processing (ffmpeg in the scheduler) may take for the clip. */
const PROCESSING_MS = Number(process.env.REEL_PROCESSING_TIMEOUT_MS ?? 180_000);
const CLIP_SECONDS = 12;

const suffix = Date.now().toString(36).slice(-6);
const alice = { name: `alice_${suffix}`, pwd: 'correct horse battery' };
const work = mkdtempSync(join(tmpdir(), 'reel-browser-'));
const clip = join(work, 'Holiday at the sea.mp4');
let browser;
let page;
let shotNumber = 0;
let videoTitle;
let watchPath;

/**
 * Saves the page as the next numbered screenshot: the whole page from the top (the
 * header is sticky, and would show wherever the page was scrolled), or with
 * `{ fullPage: false }` what the viewport shows (a modal dialog).
 */
async function shot(p, name, { fullPage = true } = {}) {
  shotNumber += 1;
  const file = join(SHOTS, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  if (fullPage) await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: file, fullPage });
}

/** A fresh visitor: its own cookies and storage. */
async function newVisitor(viewport = { width: 1280, height: 860 }) {
  const context = await browser.newContext({ viewport, baseURL: BASE });
  const p = await context.newPage();
  p.on('pageerror', (err) => { throw new Error(`page script error on ${p.url()}: ${err.message}`); });
  return p;
}

/**
 * Reloads `path` until `check(page)` holds: the API may serve public listings from a
 * cache for a second, so a change shows there within moments, not at once.
 */
async function eventually(p, path, check, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    await p.goto(path);
    await p.locator('#videos[aria-busy="false"]').waitFor({ state: 'attached' });
    if (await check(p)) return;
    if (Date.now() > end) assert.fail(`${path} never showed the expected state`);
    await p.waitForTimeout(500);
  }
}

async function register(p, { name, pwd }) {
  await p.goto('/register');
  await p.getByLabel('User name').fill(name);
  await p.getByLabel('Password', { exact: true }).fill(pwd);
  await p.getByRole('button', { name: 'Create account' }).click();
}

/**
 * On a watch page: each of `sources` ('hls', 'mp4') plays, and after a seek to 80% plays
 * on from there.
 */
async function playsAndSeeks(p, sources, seconds) {
  for (const source of sources) {
    if (await p.locator('#source-choice').isVisible()) {
      await p.getByLabel('Stream').selectOption(source);
    }
    await p.waitForFunction((s) => (document.getElementById('player').dataset.source ?? '').startsWith(s), source);
    await p.waitForFunction(() => document.getElementById('player').readyState >= 1, null, { timeout: 30_000 });
    const start = await p.evaluate(async () => {
      const v = document.getElementById('player');
      v.muted = true;
      v.currentTime = 0;
      await v.play();
      return v.currentTime;
    });
    await p.waitForFunction((t0) => document.getElementById('player').currentTime > t0 + 1, start, { timeout: 20_000 });
    const target = await p.evaluate(() => {
      const v = document.getElementById('player');
      const to = v.duration * 0.8;
      v.currentTime = to;
      return to;
    });
    assert.ok(target > seconds * 0.7, `seek target ${target}`);
    await p.waitForFunction((to) => {
      const v = document.getElementById('player');
      return !v.seeking && v.currentTime > to + 0.5;
    }, target, { timeout: 20_000 });
    const state = await p.evaluate(() => {
      const v = document.getElementById('player');
      return { time: v.currentTime, error: v.error?.message ?? null };
    });
    assert.equal(state.error, null);
    assert.ok(state.time >= target, `${source} plays on from the seek: at ${state.time}`);
    await p.evaluate(() => document.getElementById('player').pause());
  }
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A test pattern with a tone, H.264/AAC, sized to take a few seconds to upload under
  // the throttling below, so that pause and resume can be exercised.
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${CLIP_SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:duration=${CLIP_SECONDS}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', '1500k', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-movflags', '+faststart', '-shortest', clip,
  ]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  page = await newVisitor();
});

after(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('a visitor', () => {
  test('sees the home page with a welcome and the recent videos', async () => {
    const response = await page.goto('/');
    assert.equal(response.status(), 200);
    await page.getByRole('heading', { name: 'Recent videos' }).waitFor();
    await page.locator('#videos[aria-busy="false"]').waitFor({ state: 'attached' });
    assert.ok(await page.getByText('Watch, share and talk about videos').isVisible());
    assert.ok(await page.getByRole('link', { name: 'Log in' }).isVisible());
    await shot(page, 'home');
  });

  test('gets a 404 page in the site\'s look for an unknown path', async () => {
    const response = await page.goto('/no/such/page');
    assert.equal(response.status(), 404);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    assert.ok(await page.getByRole('link', { name: 'Go to the home page' }).isVisible());
    await shot(page, 'not-found');
  });

  test('is told what is wrong with a registration form, next to the field', async () => {
    await page.goto('/register');
    await page.getByLabel('User name').fill('a b');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.locator('#user_name-error').getByText('no spaces').waitFor();
    await page.locator('#pwd-error').getByText('at least 8 characters').waitFor();
    assert.equal(await page.getByLabel('User name').getAttribute('aria-invalid'), 'true');
    await shot(page, 'register-invalid');
  });
});

describe('a new user', () => {
  test('registers and lands on their own page, logged in', async () => {
    await register(page, alice);
    await page.waitForURL(`**/u/${alice.name}`);
    await page.getByRole('heading', { name: 'Upload a video' }).waitFor();
    await page.locator('#nav-name').getByText(alice.name).waitFor();
    assert.ok(await page.getByRole('button', { name: 'Log out' }).isVisible());
    await page.getByText('Upload your first one').waitFor();
    await shot(page, 'user-page-empty');
  });

  test('uploads a clip with a progress bar, pauses, resumes, and follows processing to ready', async () => {
    // Every tus request the page sends, with its Upload-Offset, and the offset each
    // HEAD answer gives, in order.
    const tus = [];
    const isTus = (url) => /\/upload\/[^/]+\/tus(\/|$)/.test(new URL(url).pathname);
    const onRequest = (r) => { if (isTus(r.url())) tus.push({ method: r.method(), offset: r.headers()['upload-offset'] }); };
    const onResponse = (r) => {
      if (isTus(r.url()) && r.request().method() === 'HEAD') tus.push({ method: 'HEAD answer', offset: r.headers()['upload-offset'] });
    };
    page.on('request', onRequest);
    page.on('response', onResponse);
    // Throttled, so that the upload lasts long enough to be paused.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 400 * 1024,
    });
    videoTitle = `Holiday at the sea ${suffix}`;
    await page.getByLabel('Video file').setInputFiles(clip);
    assert.equal(await page.getByLabel('Title').inputValue(), 'Holiday at the sea');
    await page.getByLabel('Title').fill(videoTitle);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const card = page.locator('li.card.owned').filter({ hasText: videoTitle });
    await page.locator('li.card.owned[data-status="uploading"]').filter({ hasText: videoTitle }).waitFor();
    await card.locator('progress').waitFor();
    await page.waitForFunction(() => {
      const bar = document.querySelector('li.card.owned progress');
      return bar && Number(bar.value) >= 10;
    });
    await shot(page, 'upload-progress');

    await card.getByRole('button', { name: 'Pause' }).click();
    await card.getByText(/Paused at \d+%/).waitFor();
    const pausedAt = Number(/Paused at (\d+)%/.exec(await card.locator('.badge').innerText())[1]);
    assert.ok(pausedAt > 0 && pausedAt < 100, `paused at ${pausedAt}%`);
    const pauseMark = tus.length;
    await shot(page, 'upload-paused');
    assert.match(await card.locator('.badge').innerText(), /Paused at \d+%/);

    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
    });
    assert.deepEqual(tus.slice(pauseMark).filter((e) => e.method === 'PATCH'), [], 'nothing is sent while paused');
    const resumeMark = tus.length;
    await card.getByRole('button', { name: 'Resume' }).click();
    await page.waitForFunction(
      (title) => [...document.querySelectorAll('li.card.owned')].some((li) => li.textContent.includes(title)
        && !['uploading', 'paused', 'retrying', 'stalled'].includes(li.dataset.status)),
      videoTitle,
    );
    await shot(page, 'upload-processing');
    page.off('request', onRequest);
    page.off('response', onResponse);
    // The upload went on from the server's offset (tus HEAD), not from zero: the server
    // kept part of the interrupted PATCH, and every PATCH since starts at or past it.
    const resumed = tus.slice(resumeMark);
    assert.ok(!resumed.some((e) => e.method === 'POST'), 'no new upload was created');
    const asked = resumed.findIndex((e) => e.method === 'HEAD answer');
    assert.ok(asked >= 0, `the page asked the server for its offset: ${JSON.stringify(resumed)}`);
    const stored = Number(resumed[asked].offset);
    assert.ok(stored > 0, `the server kept the bytes sent before the pause: ${stored}`);
    const patches = resumed.filter((e) => e.method === 'PATCH').map((e) => Number(e.offset));
    assert.ok(resumed.findIndex((e) => e.method === 'PATCH') > asked, 'the offset is asked before sending');
    assert.equal(patches[0], stored, `the first PATCH starts at the server's offset: ${patches}`);
    assert.ok(patches.every((o) => o >= stored), `a PATCH started before the server's offset: ${patches}`);
    await page.waitForFunction(
      (title) => [...document.querySelectorAll('li.card.owned')].some((li) => li.textContent.includes(title)
        && (li.dataset.status === 'ready' || li.dataset.status === 'failed')),
      videoTitle,
      { timeout: PROCESSING_MS, polling: 500 },
    );
    const status = await card.getAttribute('data-status');
    assert.equal(status, 'ready', `processing ended ${status}: ${await card.innerText()}`);
    await card.locator('.thumb img').waitFor();
    await shot(page, 'upload-ready');
    watchPath = new URL(await card.locator('a.card-link').getAttribute('href'), BASE).pathname;
  });

  test('sees the video on the home page with poster, title, author and duration', async () => {
    const card = page.locator('#videos li.card').filter({ hasText: videoTitle });
    await eventually(page, '/', async () => (await card.count()) === 1);
    assert.ok(await card.getByRole('link', { name: alice.name }).isVisible());
    assert.match(await card.locator('.duration').innerText(), /^0:1[12]$/);
    await page.waitForFunction(() => [...document.querySelectorAll('#videos .thumb img')].some((img) => img.complete && img.naturalWidth > 0));
    await shot(page, 'home-with-video');
  });

  test('watches it: it plays, and after a seek to 80% it plays from there', async () => {
    await page.locator('#videos li.card').filter({ hasText: videoTitle }).getByRole('link', { name: videoTitle }).click();
    await page.waitForURL(`**${watchPath}`);
    await page.getByRole('heading', { name: videoTitle }).waitFor();
    // Whether the HLS choice is shown is settled once the player has its first source.
    await page.waitForFunction(() => Boolean(document.getElementById('player').dataset.source));
    const sources = ['mp4'];
    if (await page.locator('#source-choice').isVisible()) sources.unshift('hls');
    await playsAndSeeks(page, sources, CLIP_SECONDS);
    await shot(page, 'watch');
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the watch page is ${overflow}px too wide for a phone`);
    await shot(page, 'phone-watch');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  test('posts comments, newest first and shown as text, and deletes one', async () => {
    const box = page.getByLabel('Add a comment');
    await page.locator('#comments[aria-busy="false"]').waitFor({ state: 'attached' });
    await box.fill('What a lovely <b>sea</b>!');
    await page.getByRole('button', { name: 'Post comment' }).click();
    const first = page.locator('#comments li.comment').first();
    await first.getByText('What a lovely <b>sea</b>!').waitFor();
    assert.equal(await first.locator('b').count(), 0, 'comment text must not become HTML');
    await box.fill('Second thought: the waves are great.');
    await box.press('Control+Enter');
    await page.locator('#comments li.comment').first().getByText('Second thought').waitFor();
    assert.equal(await page.locator('#comments li.comment').count(), 2);
    // A reload still shows them newest first (from the API, not from the page's memory).
    await page.reload();
    await page.locator('#comments li.comment').nth(1).getByText('What a lovely').waitFor();
    await page.locator('#comments li.comment').first().getByText('Second thought').waitFor();
    await shot(page, 'watch-comments');

    const doomed = page.locator('#comments li.comment').filter({ hasText: 'Second thought' });
    await doomed.getByRole('button', { name: /Delete comment/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this comment?' });
    await dialog.waitFor();
    await shot(page, 'comment-delete-confirm', { fullPage: false });
    await dialog.getByRole('button', { name: 'Delete comment' }).click();
    await doomed.waitFor({ state: 'detached' });
    await page.reload();
    await page.locator('#comments li.comment').first().getByText('What a lovely').waitFor();
    assert.equal(await page.locator('#comments li.comment').count(), 1);
  });

  test('is refused an oversize upload, with the limit shown in the form', async () => {
    // The limit comes from the server (tus OPTIONS); a sparse file one byte over it
    // costs no disk, and is refused before a byte of it is sent.
    const limit = await page.evaluate(async () => {
      const r = await fetch('/upload/00000000-0000-4000-8000-000000000000/tus', { method: 'OPTIONS' });
      return Number(r.headers.get('tus-max-size'));
    });
    assert.ok(limit > 0, 'the stream server announces Tus-Max-Size');
    const big = join(work, 'too big.mp4');
    writeFileSync(big, '');
    truncateSync(big, limit + 1);
    await page.goto(`/u/${alice.name}`);
    await page.getByLabel('Video file').setInputFiles(big);
    await page.getByLabel('Title').fill('Far too big');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('#upload-error').getByText(/too large.*the limit is/).waitFor();
    await page.locator('li.card.owned').filter({ hasText: 'Far too big' }).waitFor({ state: 'detached' });
    await shot(page, 'upload-too-large');
    rmSync(big);
  });

  test('is told when a file is not a video', async () => {
    const text = join(work, 'notes.mp4');
    writeFileSync(text, 'these are holiday notes, not a video\n'.repeat(200));
    await page.getByLabel('Video file').setInputFiles(text);
    await page.getByLabel('Title').fill('Not a video');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await page.locator('#upload-error').getByText(/is not a video reel can take/).waitFor();
    await page.locator('li.card.owned').filter({ hasText: 'Not a video' }).waitFor({ state: 'detached' });
  });

  test('deletes the video after confirming, and it is gone everywhere', async () => {
    await page.goto(`/u/${alice.name}`);
    const card = page.locator('li.card.owned').filter({ hasText: videoTitle });
    await card.getByRole('button', { name: `Delete “${videoTitle}”` }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this video?' });
    await dialog.waitFor();
    // Cancelling keeps it.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.ok(await card.isVisible());
    await card.getByRole('button', { name: `Delete “${videoTitle}”` }).click();
    await shot(page, 'video-delete-confirm', { fullPage: false });
    await dialog.getByRole('button', { name: 'Delete video' }).click();
    await card.waitFor({ state: 'detached' });
    await eventually(page, '/', async (p) => (await p.locator('#videos li.card').filter({ hasText: videoTitle }).count()) === 0);
    const gone = await page.goto(watchPath);
    assert.equal(gone.status(), 200);
    await page.getByRole('heading', { name: 'Video not found' }).waitFor();
    await shot(page, 'video-gone');
  });

  test('logs out, and is logged out for the API too', async () => {
    await page.goto('/');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${BASE}/`);
    await page.getByRole('link', { name: 'Log in' }).waitFor();
    await page.getByText('You are logged out.').waitFor();
    const status = await page.evaluate(async (name) => (await fetch(`/api/user/${name}`)).status, alice.name);
    assert.equal(status, 401);
    await shot(page, 'logged-out');
  });

  test('logs in again with the keyboard alone', async () => {
    await page.goto('/login');
    // The name field takes the focus on arrival (autofocus, applied at the first frame).
    await page.waitForFunction(() => document.activeElement?.id === 'user_name');
    await page.keyboard.type(alice.name);
    await page.keyboard.press('Tab');
    await page.keyboard.type(alice.pwd);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/u/${alice.name}`);
    await page.locator('#nav-name').getByText(alice.name).waitFor();
  });
});

describe('uploads in other formats', () => {
  // What people upload: VP9/Opus in WebM (transcoded) and H.264/AAC in a QuickTime MOV
  // (remuxed). Each plays and seeks as MP4 and as HLS, has a poster, and leaves nothing
  // in storage but its tombstone once deleted.
  const formats = [
    { file: 'Mountain walk.webm', codecs: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k', '-c:a', 'libopus'] },
    { file: 'City lights.mov', codecs: ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'] },
  ];
  const seconds = 6;
  let p;
  const owner = { name: `bob_${suffix}`, pwd: 'another good password' };

  before(async () => {
    for (const { file, codecs } of formats) {
      execFileSync('ffmpeg', [
        '-hide_banner', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${seconds}`,
        '-f', 'lavfi', '-i', `sine=frequency=330:duration=${seconds}`,
        ...codecs, '-shortest', join(work, file),
      ]);
    }
    p = await newVisitor();
    await register(p, owner);
    await p.waitForURL(`**/u/${owner.name}`);
  });

  for (const { file } of formats) {
    test(`${file}: processed, plays and seeks as MP4 and HLS, with a poster; once deleted it answers 410 and leaves only its tombstone`, async () => {
      const title = file.replace(/\.\w+$/, '');
      await p.goto(`/u/${owner.name}`);
      await p.getByLabel('Video file').setInputFiles(join(work, file));
      await p.getByRole('button', { name: 'Upload', exact: true }).click();
      const card = p.locator('li.card.owned').filter({ hasText: title });
      await p.waitForFunction(
        (t) => [...document.querySelectorAll('li.card.owned')].some((li) => li.textContent.includes(t)
          && (li.dataset.status === 'ready' || li.dataset.status === 'failed')),
        title,
        { timeout: PROCESSING_MS, polling: 500 },
      );
      assert.equal(await card.getAttribute('data-status'), 'ready', await card.innerText());
      const path = new URL(await card.locator('a.card-link').getAttribute('href'), BASE).pathname;
      const vid = path.split('/').pop();

      const poster = await p.request.get(`/videos/${vid}/poster.jpg`);
      assert.equal(poster.status(), 200);
      assert.equal(poster.headers()['content-type'], 'image/jpeg');
      const mp4 = await p.request.get(`/videos/${vid}`, { headers: { Range: 'bytes=0-11' } });
      assert.equal(mp4.status(), 206);
      assert.equal(mp4.headers()['content-type'], 'video/mp4');
      assert.equal((await mp4.body()).subarray(4, 8).toString(), 'ftyp');

      await p.goto(path);
      await p.getByRole('heading', { name: title }).waitFor();
      // The choice is shown once the player has found the HLS stream, after the title.
      await p.locator('#source-choice').waitFor({ state: 'visible', timeout: 30_000 });
      await playsAndSeeks(p, ['hls', 'mp4'], seconds);
      await shot(p, `watch-${file.split('.').pop()}`);

      const stored = process.env.REEL_DATA_DIR && join(process.env.REEL_DATA_DIR, 'storage', 'videos', vid);
      if (stored) {
        const files = readdirSync(stored, { recursive: true });
        for (const made of ['original', 'playable.mp4', 'poster.jpg', join('hls', 'master.m3u8')]) {
          assert.ok(files.includes(made), `${made} in storage before the delete: ${files.join(', ')}`);
        }
      }
      await p.goto(`/u/${owner.name}`);
      await card.getByRole('button', { name: `Delete “${title}”` }).click();
      await p.getByRole('dialog', { name: 'Delete this video?' }).getByRole('button', { name: 'Delete video' }).click();
      await card.waitFor({ state: 'detached' });
      if (stored) {
        // Everything goes but the tombstone that keeps refusing the video's bytes.
        const end = Date.now() + 30_000;
        while (readdirSync(stored).join(',') !== 'state.json') {
          assert.ok(Date.now() < end, `${stored} still holds ${readdirSync(stored).join(', ')}`);
          await p.waitForTimeout(250);
        }
      }
      const end = Date.now() + 10_000;
      while ((await p.request.get(`/videos/${vid}`)).status() !== 410) {
        assert.ok(Date.now() < end, `the deleted video ${vid} is still served`);
        await p.waitForTimeout(250);
      }
    });
  }
});

describe('the error paths', () => {
  test('a taken name is shown on the name field', async () => {
    const p = await newVisitor();
    await register(p, alice);
    await p.locator('#user_name-error').getByText('This name is taken').waitFor();
    assert.equal(p.url(), `${BASE}/register`);
    await shot(p, 'register-name-taken');
    await p.context().close();
  });

  test('a wrong password is said so, and the password is cleared', async () => {
    const p = await newVisitor();
    await p.goto('/login');
    await p.getByLabel('User name').fill(alice.name);
    await p.getByLabel('Password', { exact: true }).fill('not the password');
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByRole('alert').getByText('Wrong user name or password.').waitFor();
    assert.equal(await p.getByLabel('Password', { exact: true }).inputValue(), '');
    await shot(p, 'login-wrong-password');
    await p.context().close();
  });

  test('too many tries lock the form with a countdown', async () => {
    // Another account than alice's: log-ins back off per account.
    const victim = `victim_${suffix}`;
    const made = await fetch(`${BASE}/api/user`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user_name: victim, pwd: 'a password nobody guesses' }),
    });
    assert.equal(made.status, 201);
    const p = await newVisitor();
    await p.goto('/login');
    await p.getByLabel('User name').fill(victim);
    const alert = p.getByRole('alert');
    for (let i = 0; i < 30; i += 1) {
      await p.getByLabel('Password', { exact: true }).fill(`guess number ${i}`);
      await p.getByRole('button', { name: 'Log in' }).click();
      await alert.getByText(/Wrong user name or password|Too many attempts/).waitFor();
      if (/Too many attempts/.test(await alert.innerText())) break;
    }
    await alert.getByText(/Too many attempts\. Try again in \d+ seconds?\./).waitFor();
    assert.ok(await p.getByRole('button', { name: 'Log in' }).isDisabled());
    await shot(p, 'login-too-many-tries');
    await p.context().close();
  });

  test('a log-in link whose next leads off-site goes home instead', async () => {
    for (const away of ['/\t/evil.example', '/\\evil.example', '/%2F%2Fevil.example']) {
      const p = await newVisitor();
      await p.goto(`/login?next=${encodeURIComponent(away)}`);
      assert.equal(new URL(p.url()).pathname, '/login');
      await p.getByLabel('User name').fill(alice.name);
      await p.getByLabel('Password', { exact: true }).fill(alice.pwd);
      await p.getByRole('button', { name: 'Log in' }).click();
      await p.waitForURL((url) => url.pathname !== '/login');
      assert.equal(new URL(p.url()).origin, new URL(BASE).origin, `${away} stays on the site`);
      assert.equal(new URL(p.url()).pathname, '/', `${away} goes home`);
      await p.context().close();
    }
  });

  test('on a phone-width screen the pages fit without sideways scrolling', async () => {
    const p = await newVisitor({ width: 375, height: 740 });
    for (const path of ['/', '/login', `/u/${alice.name}`]) {
      await p.goto(path);
      await p.waitForLoadState('networkidle');
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} is ${overflow}px too wide`);
    }
    await p.goto('/');
    await shot(p, 'phone-home');
    await p.context().close();
  });
});
