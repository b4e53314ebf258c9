// Drives Meet's upstream frontend (served on FRONTEND, proxying /api/ to meet) in headless
// Chromium through the flows a host and a guest go through before a call connects:
// home, login at the OpenID provider, instant meeting, pre-join, the LiveKit token and its
// attributes, a guest asking to enter a restricted room and the host admitting them, logout.
// It records every /api/ call, every failed one and every page error, and exits 1 on any.
//
//   node flow.mjs [--frontend http://127.0.0.1:3100] [--user alice]
import { chromium } from 'playwright-core';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const FRONTEND = arg('frontend', 'http://127.0.0.1:3100');
const USER = arg('user', 'alice');
const problems = [];
// A 1x1 PNG: what a user picks as a custom background.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const apiCalls = [];
const step = (s) => console.log(`== ${s}`);

function watch(page, who) {
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (!url.pathname.startsWith('/api/')) return;
    const line = `${who} ${r.request().method()} ${url.pathname}${url.search} -> ${r.status()}`;
    apiCalls.push(line);
    if (r.status() >= 400) {
      // The silent login's answer and an anonymous users/me are expected refusals.
      const expected = url.pathname.endsWith('/users/me/') && r.status() === 401;
      if (!expected) problems.push(`failed API call: ${line} ${await r.text().catch(() => '')}`);
    }
  });
  page.on('requestfailed', (r) => {
    if (new URL(r.url()).pathname.startsWith('/api/')) problems.push(`${who} request failed: ${r.url()} ${r.failure()?.errorText}`);
    else if (process.env.E2E_VERBOSE && !r.url().includes('/rtc/')) console.log(`   (${who} non-API request failed: ${r.url()} ${r.failure()?.errorText})`);
  });
  page.on('pageerror', (e) => problems.push(`${who} page error: ${e.message}${process.env.E2E_VERBOSE ? ` ${e.stack}` : ''}`));
  if (process.env.E2E_VERBOSE) page.on('console', (m) => m.type() === 'error' && console.log(`   (${who} console: ${m.text().slice(0, 200)} ${m.location()?.url ?? ""})`));
}

function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

async function csrfFetch(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const csrf = document.cookie.split('; ').find((c) => c.startsWith('csrftoken='))?.split('=')[1];
      const r = await fetch(path, {
        method,
        credentials: 'include',
        headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrf ?? '' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    { method, path, body },
  );
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
});
try {
  const host = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const page = await host.newPage();
  watch(page, 'host');

  step('home page, anonymous');
  await page.goto(`${FRONTEND}/`);
  await page.getByText('Login', { exact: true }).first().waitFor({ timeout: 20000 });

  step(`login as ${USER} through the OpenID provider`);
  await page.getByText('Login', { exact: true }).first().click();
  await page.locator(`#login-${USER}`).click({ timeout: 20000 });
  await page.waitForURL(`${FRONTEND}/**`, { timeout: 20000 });
  const me = await page.waitForResponse((r) => r.url().includes('/api/v1.0/users/me/') && r.status() === 200, { timeout: 20000 });
  const meBody = await me.json();
  console.log(`   users/me: ${meBody.email} language=${meBody.language} timezone=${meBody.timezone}`);

  step('instant meeting');
  await page.getByRole('button', { name: 'Create a meeting' }).click();
  const created = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1.0/rooms/' && r.request().method() === 'POST');
  await page.getByText('Start an instant meeting').click();
  const room = await (await created).json();
  console.log(`   room ${room.slug} (${room.id}), access_level=${room.access_level}`);
  await page.waitForURL(`${FRONTEND}/${room.slug}**`, { timeout: 20000 });

  const first = claims(room.livekit.token);
  console.log(`   instant meeting token: attributes=${JSON.stringify(first.attributes)} roomAdmin=${first.video?.roomAdmin}`);
  if (first.attributes?.room_role !== 'owner' || first.video?.roomAdmin !== true) problems.push('the instant meeting token gives no host controls');

  step('the host comes back through the pre-join page (a new tab): the LiveKit token');
  const prejoin = await host.newPage();
  watch(prejoin, 'host');
  // The pre-join page fetches the room (with its token) on load and again on "Join".
  const roomAnswers = [];
  const collect = async (r) => {
    if (new URL(r.url()).pathname === `/api/v1.0/rooms/${room.slug}/` && r.request().method() === 'GET' && r.status() === 200) {
      roomAnswers.push(await r.json().catch(() => ({})));
    }
  };
  prejoin.on('response', collect);
  await prejoin.goto(`${FRONTEND}/${room.slug}`);
  const join = prejoin.getByRole('button', { name: /^Join/ }).first();
  await join.waitFor({ timeout: 20000 });
  // The effects dialog lists the custom backgrounds (files/) when uploads are on and the browser
  // can process video; it is optional here.
  const effects = prejoin.getByRole('button', { name: 'Apply backgrounds and effects' });
  if (await effects.isVisible().catch(() => false)) {
    const listed = prejoin
      .waitForResponse((r) => new URL(r.url()).pathname.startsWith('/api/v1.0/files'), { timeout: 10000 })
      .catch(() => null);
    await effects.click();
    const files = await listed;
    console.log(`   effects dialog: ${files ? `files listed (${files.status()})` : 'no files/ call (uploads off)'}`);
    if (files) {
      // Upload a custom background the way a user does: the dialog's file picker, then the
      // frontend's own POST files/, PUT to the presigned URL, upload-ended.
      const ended = prejoin.waitForResponse((r) => r.url().includes('/upload-ended/'), { timeout: 20000 });
      const put = prejoin.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('X-Amz-Signature'), { timeout: 20000 });
      await prejoin.locator('input[type=file]').first().setInputFiles({ name: 'background.png', mimeType: 'image/png', buffer: PNG });
      const [p, e] = [await put, await ended];
      const body = await e.json().catch(() => ({}));
      console.log(`   background upload: presigned PUT ${p.status()}, upload-ended ${e.status()} (${body.upload_state}, ${body.mimetype})`);
      if (p.status() !== 200 || e.status() !== 200 || body.upload_state !== 'ready') problems.push('the background upload did not end ready');
    }
    await prejoin.keyboard.press('Escape');
  } else {
    console.log('   effects dialog: not offered by this browser');
  }
  await join.click();
  for (let i = 0; i < 100 && !roomAnswers.some((a) => a.livekit?.token); i++) await prejoin.waitForTimeout(100);
  prejoin.off('response', collect);
  const joined = roomAnswers.findLast((a) => a.livekit?.token) ?? {};
  console.log(`   pre-join fetched the room ${roomAnswers.length} time(s)`);
  if (!joined.livekit?.token) problems.push('no LiveKit token in the room answer');
  const c = claims(joined.livekit.token);
  console.log(`   livekit.url=${joined.livekit.url} room=${joined.livekit.room} name=${c.name}`);
  console.log(`   attributes=${JSON.stringify(c.attributes)} roomAdmin=${c.video?.roomAdmin} canUpdateOwnMetadata=${c.video?.canUpdateOwnMetadata}`);
  if (c.attributes?.room_role !== 'owner' || c.video?.roomAdmin !== true) problems.push('the owner token gives no host controls');

  step('guest asks to enter the restricted room; the host admits them');
  const patched = await csrfFetch(page, 'PATCH', `/api/v1.0/rooms/${room.id}/`, { access_level: 'restricted' });
  if (patched.status !== 200) problems.push(`PATCH room -> ${patched.status}`);
  const guestContext = await browser.newContext({ permissions: ['camera', 'microphone'] });
  const guest = await guestContext.newPage();
  watch(guest, 'guest');
  await guest.goto(`${FRONTEND}/${room.slug}`);
  await guest.getByLabel('Your name').fill('Guest Visitor');
  const waiting = guest.waitForResponse((r) => r.url().includes('/request-entry/'), { timeout: 20000 });
  await guest.getByRole('button', { name: /^Join/ }).first().click();
  const firstEntry = await (await waiting).json();
  console.log(`   guest request-entry: ${firstEntry.status}`);
  if (firstEntry.status !== 'waiting') problems.push(`guest status ${firstEntry.status}, expected waiting`);
  await guest.getByText('Requesting to join...').waitFor({ timeout: 20000 });
  const list = await csrfFetch(page, 'GET', `/api/v1.0/rooms/${room.id}/waiting-participants/`);
  const waiter = list.body?.participants?.find((p) => p.username === 'Guest Visitor');
  if (!waiter) problems.push(`guest not in the waiting list: ${JSON.stringify(list)}`);
  const accepted = guest.waitForResponse(
    async (r) => r.url().includes('/request-entry/') && (await r.json().catch(() => ({}))).status === 'accepted',
    { timeout: 30000 },
  );
  const enter = await csrfFetch(page, 'POST', `/api/v1.0/rooms/${room.id}/enter/`, { participant_id: waiter?.id, allow_entry: true });
  if (enter.status !== 200) problems.push(`enter -> ${enter.status}`);
  const admitted = await (await accepted).json();
  const g = claims(admitted.livekit.token);
  console.log(`   guest admitted: identity=${g.sub} attributes=${JSON.stringify(g.attributes)} roomAdmin=${g.video?.roomAdmin ?? false}`);

  step('logout');
  await csrfFetch(page, 'GET', '/api/v1.0/users/me/');
  await page.goto(`${FRONTEND}/`);
  await page.waitForTimeout(1000);
} catch (e) {
  problems.push(`flow stopped: ${e.message.split('\n')[0]}`);
  for (const [i, p] of browser.contexts().flatMap((c) => c.pages()).entries()) {
    const file = `${process.env.TMPDIR || '/tmp'}/frontend-e2e-failure-${i}.png`;
    await p.screenshot({ path: file }).catch(() => {});
    console.log(`   screenshot: ${file} (${p.url()})`);
  }
} finally {
  await browser.close();
}

console.log(`\n${apiCalls.length} API calls:`);
for (const l of apiCalls) console.log(`   ${l}`);
if (problems.length) {
  console.log(`\n${problems.length} problem(s):`);
  for (const p of problems) console.log(`   ${p}`);
  process.exit(1);
}
console.log('\nno failed API call, no page error');
