// End-to-end test of the web page of `pupembed serve`, in Debian's Chromium driven by Playwright:
// a small gallery of real dogs from ../shared, then upload a photo and see pictures, compare two
// photos, run a puppy-algebra query, open the map. Screenshots go to $ARTIFACTS (default
// build/test-artifacts/browser). Prints the page's first-load bytes and the time to the first
// result of an upload.
//   node tests/browser/page.test.mjs PUPEMBED_BINARY SHARED_DIR
// Exit status: 0 passed, 1 failed, 77 skipped (no Chromium, no playwright-core, no data).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const [binary, sharedArg] = process.argv.slice(2);
const shared = resolve(sharedArg || join(here, '../../../shared'));
const val = join(shared, 'data/stanford-dogs-64/val');
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = resolve(process.env.ARTIFACTS || join(here, '../../build/test-artifacts/browser'));

function skip(why) {
  console.log(`SKIPPED: ${why}`);
  process.exit(77);
}
if (!binary || !existsSync(binary)) skip(`no pupembed binary (${binary})`);
if (!existsSync(val)) skip(`no photos at ${val}`);
if (!existsSync(chromium)) skip(`no Chromium at ${chromium} (apt install chromium)`);
let playwright;
try {
  playwright = createRequire(import.meta.url)('playwright-core');
} catch (e) {
  skip('playwright-core is not installed (npm ci --prefix tests/browser)');
}

const failures = [];
function check(condition, what) {
  console.log(`${condition ? 'ok' : 'FAILED'}: ${what}`);
  if (!condition) failures.push(what);
}

// A gallery of 4 photos from each of 6 breeds, and a query photo that is not in it.
const work = mkdtempSync(join(tmpdir(), 'pupembed-browser-'));
const breeds = ['n02085620-Chihuahua', 'n02110958-pug', 'n02099601-golden_retriever',
                'n02106662-German_shepherd', 'n02110185-Siberian_husky', 'n02088364-beagle'];
for (const breed of breeds) {
  const photos = readdirSync(join(val, breed)).sort();
  mkdirSync(join(work, 'photos', breed), { recursive: true });
  for (const name of photos.slice(0, 4)) copyFileSync(join(val, breed, name), join(work, 'photos', breed, name));
}
const queryPhoto = join(val, 'n02110958-pug', readdirSync(join(val, 'n02110958-pug')).sort()[6]);
const db = join(work, 'g.db');
const added = spawnSync(binary, ['index', 'add', join(work, 'photos'), '--db', db, '--threads', '1'], { encoding: 'utf8' });
if (added.status !== 0) {
  console.log(added.stderr);
  process.exit(1);
}

const server = spawn(binary, ['serve', '--db', db, '--port', '0', '--threads', '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolveUrl, reject) => {
  let text = '';
  server.stdout.on('data', (chunk) => {
    text += chunk;
    const match = text.match(/http:\/\/127\.0\.0\.1:\d+\//);
    if (match) resolveUrl(match[0]);
  });
  server.on('exit', (code) => reject(new Error(`the server exited with ${code}`)));
  setTimeout(() => reject(new Error('the server did not start in 60 s')), 60000);
});

mkdirSync(artifacts, { recursive: true });
const browser = await playwright.chromium.launch({
  executablePath: chromium,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--disable-sync', '--no-first-run', '--disable-quic'],
});
const report = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const outside = [];
  page.on('request', (request) => { if (!request.url().startsWith(url) && !request.url().startsWith('blob:')) outside.push(request.url()); });

  // First load: every byte the page fetched (headers included) until it is ready, from the
  // browser's own resource timing.
  const loadStart = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('ready'));
  report.first_load_ms = Date.now() - loadStart;
  const load = await page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    return { bytes: entries.reduce((sum, e) => sum + e.transferSize, 0), requests: entries.length };
  });
  report.first_load_bytes = load.bytes;
  report.first_load_requests = load.requests;
  check((await page.textContent('#gallery-summary')).includes('24 photos'), 'the page shows the gallery (24 photos)');

  // The page opens on the gallery: a grid of its photos with their breeds, before any upload.
  await page.waitForSelector('#browse .card img');
  await page.waitForFunction(() => [...document.querySelectorAll('#browse .card img')].every((img) => img.complete && img.naturalWidth > 0));
  const grid = await page.$$eval('#browse .card', (nodes) => nodes.map((n) => ({
    id: Number(n.dataset.id), breed: n.querySelector('.breed').textContent })));
  check(grid.length === 24 && grid.every((c) => c.breed && c.breed !== 'no breed guess'),
        `the page opens on a grid of the gallery's 24 photos with their breeds (got ${grid.length})`);
  check(grid.every((c, i) => i === 0 || grid[i - 1].id > c.id), 'newest first (ids descending)');
  check((await page.textContent('#browse-position')).includes('1–24 of 24'), 'the grid says which photos it shows');
  await page.screenshot({ path: join(artifacts, '1-loaded.png'), fullPage: true });
  await page.selectOption('#browse-order', 'breed');
  await page.waitForFunction(() => window.pupembed.browse.shown === 'breed');
  const byBreed = await page.$$eval('#browse .card .breed', (nodes) => nodes.map((n) => n.textContent.toLowerCase()));
  check(byBreed.length === 24 && byBreed.every((b, i) => i === 0 || byBreed[i - 1] <= b),
        `ordered by breed (${[...new Set(byBreed)].join(', ')})`);
  // A click on a gallery photo searches from it.
  const galleryId = await page.getAttribute('#browse .card:nth-child(3)', 'data-id');
  await page.click('#browse .card:nth-child(3) img');
  await page.waitForFunction((id) => document.querySelector('#query').textContent.includes(`#${id}`), galleryId);
  check(await page.isVisible('#results .card'), `a click on gallery photo #${galleryId} searches from it`);
  await page.click('.tab[data-tab="gallery"]');

  // Upload a photo: the nearest dogs appear as pictures with distances and breeds.
  const uploadStart = Date.now();
  await page.setInputFiles('#file', queryPhoto);
  await page.waitForFunction(() => document.querySelector('#query').textContent.includes('your photo'));
  await page.waitForSelector('#results .card img');
  report.first_result_ms = Date.now() - uploadStart;
  await page.waitForFunction(() => [...document.querySelectorAll('#results .card img')].every((img) => img.complete && img.naturalWidth > 0));
  const cards = await page.$$eval('#results .card', (nodes) => nodes.map((n) => ({
    breed: n.querySelector('.breed').textContent, distance: n.querySelector('.distance').textContent })));
  check(cards.length === 12, `12 results for an upload (got ${cards.length})`);
  check(cards.every((c) => /distance \d\.\d{3}/.test(c.distance)), 'every result shows its distance');
  check(cards[0].breed === 'pug', `the nearest dog to a pug is a pug (got ${cards[0].breed})`);
  check((await page.textContent('#query')).includes('pug'), 'the query photo is shown with its breed guess');
  await page.screenshot({ path: join(artifacts, '2-search.png'), fullPage: true });

  // Click a result: a search from it.
  const firstId = await page.getAttribute('#results .card:nth-child(2)', 'data-id');
  await page.click('#results .card:nth-child(2) img');
  await page.waitForFunction((id) => document.querySelector('#query').textContent.includes(`#${id}`), firstId);
  check(!(await page.$$eval('#results .card', (nodes) => nodes.map((n) => n.dataset.id))).includes(firstId),
        'searching from a gallery photo leaves it out of its results');

  // Compare: A and B from the results.
  await page.click('#results .card:nth-child(1) button[title="compare: photo A"]');
  await page.click('#results .card:nth-child(5) button[title="compare: photo B"]');
  await page.click('.tab[data-tab="compare"]');
  await page.waitForFunction(() => document.querySelector('#similarity').textContent.startsWith('similarity'));
  check(/similarity -?\d\.\d{3}, distance \d\.\d{3}/.test(await page.textContent('#similarity')), 'two photos compared');
  await page.screenshot({ path: join(artifacts, '3-compare.png') });

  // Puppy algebra by clicking + and −, then Run.
  await page.click('.tab[data-tab="search"]');
  await page.click('#results .card:nth-child(1) button[title="add to the algebra expression"]');
  await page.click('#results .card:nth-child(3) button[title="add to the algebra expression"]');
  await page.click('#results .card:nth-child(6) button[title="subtract in the algebra expression"]');
  await page.click('.tab[data-tab="algebra"]');
  const expression = await page.inputValue('#expression');
  check(/^#\d+ \+ #\d+ - #\d+$/.test(expression), `the clicks build an expression (${expression})`);
  await page.click('#run-algebra');
  await page.waitForSelector('#algebra-results .card img');
  const algebraIds = await page.$$eval('#algebra-results .card', (nodes) => nodes.map((n) => n.dataset.id));
  const inputIds = expression.match(/\d+/g);
  check(algebraIds.length === 8 && algebraIds.every((id) => !inputIds.includes(id)), 'algebra gives 8 photos, none of its inputs');
  await page.screenshot({ path: join(artifacts, '4-algebra.png'), fullPage: true });
  // A syntax error is shown, not thrown.
  await page.fill('#expression', '#1 + + #2');
  await page.click('#run-algebra');
  await page.waitForSelector('#algebra-error:not([hidden])');
  check((await page.textContent('#algebra-error')).includes('column 6'), 'a syntax error names its column');

  // The map: one dot per photo; hovering shows the photo.
  await page.click('.tab[data-tab="map"]');
  await page.waitForFunction(() => Number(document.querySelector('#map').dataset.points) > 0);
  const points = Number(await page.getAttribute('#map', 'data-points'));
  check(points === 24, `the map has a dot per photo (${points})`);
  const dot = await page.evaluate(() => {
    const p = window.pupembed.map.points[0];
    const canvas = document.querySelector('#map');
    const box = canvas.getBoundingClientRect();
    return { x: box.left + p.cx * box.width / canvas.width, y: box.top + p.cy * box.height / canvas.height };
  });
  await page.mouse.move(dot.x, dot.y);
  await page.waitForSelector('#map-tip:not([hidden]) img');
  await page.waitForFunction(() => document.querySelector('#map-tip img').naturalWidth > 0);
  check(true, 'hovering a dot shows its photo');
  // ⌖ on a gallery photo rings it on the map.
  await page.click('.tab[data-tab="gallery"]');
  const ringed = await page.getAttribute('#browse .card:nth-child(5)', 'data-id');
  await page.click('#browse .card:nth-child(5) button[title="show on the map"]');
  await page.waitForFunction((id) => document.querySelector('#map').dataset.marked === id, ringed);
  check(await page.isVisible('#map'), `⌖ on gallery photo #${ringed} rings it on the map`);
  await page.screenshot({ path: join(artifacts, '5-map.png') });

  check(pageErrors.length === 0, `no script errors on the page (${pageErrors.join('; ')})`);
  check(outside.length === 0, `nothing fetched from outside the server (${outside.join(', ')})`);
} catch (error) {
  failures.push(String(error));
  console.log(`FAILED: ${error.stack || error}`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

console.log(`page first load: ${report.first_load_bytes} bytes in ${report.first_load_requests} requests, ${report.first_load_ms} ms; ` +
            `upload to first result: ${report.first_result_ms} ms`);
writeFileSync(join(artifacts, 'report.json'), JSON.stringify(report, null, 2));
console.log(`screenshots and report.json in ${artifacts}`);
process.exit(failures.length ? 1 : 0);
