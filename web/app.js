// pupembed's web page: plain JavaScript over the JSON API (no build step, no network beyond the server).
'use strict';

const $ = (selector) => document.querySelector(selector);
const state = { terms: [], slots: { a: null, b: null }, map: null, marked: null, lastSearchMs: null,
                browse: { offset: 0, limit: 48, order: 'newest', total: 0 } };
window.pupembed = state;  // read by the browser test

function setStatus(text, bad = false) {
  const status = $('#status');
  status.textContent = text;
  status.classList.toggle('bad', bad);
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  let body;
  try {
    body = await response.json();
  } catch (e) {
    throw new Error(`${path}: the server answered ${response.status} without JSON`);
  }
  if (!response.ok) throw new Error(body.error || `${path}: status ${response.status}`);
  return body;
}

const postJson = (path, value) =>
  api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });

function breedName(breed) {
  if (!breed) return 'no breed guess';
  return breed.replace(/^n\d+-/, '').replace(/_/g, ' ');
}

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

// ---- tabs ----
function showTab(name) {
  for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.dataset.tab === name);
  for (const panel of document.querySelectorAll('.panel')) panel.classList.toggle('active', panel.id === `tab-${name}`);
  if (name === 'map') drawMap();
}
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => showTab(tab.dataset.tab));

// ---- photo cards (the gallery's and the results') ----
function card(result) {
  const where = result.distance != null ? `distance ${result.distance.toFixed(3)} · #${result.id}` : `#${result.id}`;
  return element('div', { class: 'card', 'data-id': result.id }, [
    element('img', { src: result.thumb, alt: breedName(result.breed), loading: 'lazy', title: `#${result.id}: search from this photo`,
                     onclick: () => searchById(result.id) }),
    element('div', { class: 'meta' }, [
      element('div', { class: 'breed', text: breedName(result.breed) }),
      element('div', { class: 'distance', text: where }),
    ]),
    element('div', { class: 'actions' }, [
      element('button', { text: '+', title: 'add to the algebra expression', onclick: () => addTerm('+', result) }),
      element('button', { text: '−', title: 'subtract in the algebra expression', onclick: () => addTerm('-', result) }),
      element('button', { text: 'A', title: 'compare: photo A', onclick: () => setSlot('a', { id: result.id, thumb: result.thumb }) }),
      element('button', { text: 'B', title: 'compare: photo B', onclick: () => setSlot('b', { id: result.id, thumb: result.thumb }) }),
      element('button', { text: '⌖', title: 'show on the map', onclick: () => showOnMap(result.id) }),
    ]),
  ]);
}

function showResults(container, results) {
  container.replaceChildren(...results.map(card));
  container.dataset.count = String(results.length);
}

// ---- the gallery, a page at a time ----
async function showGalleryPage() {
  const b = state.browse;
  try {
    const page = await api(`/api/images?offset=${b.offset}&limit=${b.limit}&order=${b.order}`);
    b.total = page.total;
    showResults($('#browse'), page.images);
    b.shown = page.order;
    $('#browse-position').textContent = page.total === 0 ? 'the gallery is empty'
      : `photos ${b.offset + 1}–${b.offset + page.images.length} of ${page.total}`;
    $('#browse-previous').disabled = b.offset === 0;
    $('#browse-next').disabled = b.offset + b.limit >= page.total;
  } catch (error) {
    setStatus(error.message, true);
  }
}

$('#browse-order').addEventListener('change', (event) => {
  state.browse.order = event.target.value;
  state.browse.offset = 0;
  showGalleryPage();
});
$('#browse-previous').addEventListener('click', () => {
  state.browse.offset = Math.max(0, state.browse.offset - state.browse.limit);
  showGalleryPage();
});
$('#browse-next').addEventListener('click', () => {
  state.browse.offset += state.browse.limit;
  showGalleryPage();
});

// ---- search ----
function showQuery(imageUrl, query) {
  const box = $('#query');
  const guess = query.breed ? `${breedName(query.breed)} (${(query.breed_probability * 100).toFixed(0)}%)` : 'no breed guess';
  box.replaceChildren(element('img', { src: imageUrl, alt: 'query photo' }),
                      element('div', {}, [element('div', { class: 'breed', text: guess }),
                                          element('div', { class: 'muted', text: query.gallery_id != null ? `gallery photo #${query.gallery_id}` : 'your photo' })]));
  box.hidden = false;
}

async function searchFile(file) {
  showTab('search');
  const started = performance.now();
  setStatus(`searching with ${file.name}…`);
  const form = new FormData();
  form.append('image', file, file.name);
  form.append('k', '12');
  try {
    const answer = await api('/api/search', { method: 'POST', body: form });
    showQuery(URL.createObjectURL(file), answer.query);
    showResults($('#results'), answer.results);
    state.lastSearchMs = performance.now() - started;
    setStatus(`${answer.results.length} nearest photos in ${state.lastSearchMs.toFixed(0)} ms`);
  } catch (error) {
    $('#results').replaceChildren();
    setStatus(error.message, true);
  }
}

async function searchById(id) {
  showTab('search');
  setStatus(`searching from #${id}…`);
  try {
    const answer = await postJson('/api/search', { id: `#${id}`, k: 12 });
    showQuery(`/api/images/${id}/thumb`, answer.query);
    showResults($('#results'), answer.results);
    setStatus(`${answer.results.length} nearest photos to #${id}`);
  } catch (error) {
    setStatus(error.message, true);
  }
}

const drop = $('#drop');
$('#file').addEventListener('change', (event) => { if (event.target.files[0]) searchFile(event.target.files[0]); });
drop.addEventListener('dragover', (event) => { event.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  if (event.dataTransfer.files[0]) searchFile(event.dataTransfer.files[0]);
});

// ---- compare ----
function setSlot(name, photo) {
  state.slots[name] = photo;
  const body = $(`#slot-${name} .slot-body`);
  body.replaceChildren(element('img', { src: photo.thumb || photo.url, alt: `photo ${name.toUpperCase()}` }));
  setStatus(`photo ${name.toUpperCase()} chosen`);
  compare();
}

async function compare() {
  const { a, b } = state.slots;
  if (!a || !b) return;
  const form = new FormData();
  for (const [name, photo] of Object.entries({ a, b })) {
    if (photo.file) form.append(name, photo.file, photo.file.name);
    else form.append(name, `#${photo.id}`);
  }
  try {
    const answer = await api('/api/similar', { method: 'POST', body: form });
    $('#similarity').textContent =
      `similarity ${answer.similarity.toFixed(3)}, distance ${answer.distance.toFixed(3)} — ` +
      `A: ${breedName(answer.a.breed)}, B: ${breedName(answer.b.breed)}`;
  } catch (error) {
    $('#similarity').textContent = error.message;
  }
}

for (const input of document.querySelectorAll('input[data-slot]')) {
  input.addEventListener('change', () => {
    const file = input.files[0];
    if (file) setSlot(input.dataset.slot, { file, url: URL.createObjectURL(file) });
  });
}

// ---- puppy algebra ----
function expressionOfTerms() {
  return state.terms.map((term, i) => (i === 0 ? (term.sign === '-' ? '-' : '') : ` ${term.sign} `) + `#${term.id}`).join('');
}

function addTerm(sign, result) {
  state.terms.push({ sign, id: result.id, thumb: result.thumb });
  renderTerms();
  setStatus(`${sign === '+' ? 'added' : 'subtracted'} #${result.id}; see Puppy algebra`);
}

function renderTerms() {
  $('#terms').replaceChildren(...state.terms.map((term, i) => element('div', { class: 'term' }, [
    element('span', { class: 'sign', text: term.sign === '+' ? '+' : '−' }),
    element('img', { src: term.thumb, alt: `#${term.id}` }),
    element('button', { class: 'secondary', text: '×', title: 'remove', onclick: () => { state.terms.splice(i, 1); renderTerms(); } }),
  ])));
  $('#expression').value = expressionOfTerms();
}

async function runAlgebra() {
  const expression = $('#expression').value.trim();
  const error = $('#algebra-error');
  error.hidden = true;
  if (!expression) return;
  try {
    const answer = await postJson('/api/algebra', { expression, k: Number($('#algebra-k').value) || 8 });
    showResults($('#algebra-results'), answer.results);
    setStatus(`${expression}: ${answer.results.length} photos`);
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
    $('#algebra-results').replaceChildren();
  }
}

$('#run-algebra').addEventListener('click', runAlgebra);
$('#expression').addEventListener('keydown', (event) => { if (event.key === 'Enter') runAlgebra(); });
$('#clear-algebra').addEventListener('click', () => { state.terms = []; renderTerms(); $('#algebra-results').replaceChildren(); });

// ---- map ----
function breedColour(breed) {
  let hash = 0;
  for (const c of breed || '') hash = (hash * 31 + c.charCodeAt(0)) | 0;
  return `hsl(${((hash % 360) + 360) % 360}, 65%, ${45 + (Math.abs(hash >> 9) % 3) * 8}%)`;
}

async function drawMap() {
  const canvas = $('#map');
  if (!state.map) {
    setStatus('loading the map…');
    try {
      state.map = await api('/api/map');
    } catch (error) {
      setStatus(error.message, true);
      return;
    }
    const m = state.map;
    $('#map-note').textContent = `${m.shown} of ${m.total} photos, laid out in ${m.seconds.toFixed(1)} s ` +
      `(${m.method === 'umap' ? 'UMAP-style, from each photo\'s 15 nearest neighbours' : 'principal components'}).`;
    setStatus('map ready');
  }
  const points = state.map.points;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  if (points.length === 0) return;
  const xs = points.map((p) => p.x), ys = points.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 12;
  const sx = (canvas.width - 2 * pad) / ((x1 - x0) || 1), sy = (canvas.height - 2 * pad) / ((y1 - y0) || 1);
  for (const p of points) {
    p.cx = pad + (p.x - x0) * sx;
    p.cy = canvas.height - pad - (p.y - y0) * sy;
    context.fillStyle = breedColour(p.breed);
    context.beginPath();
    context.arc(p.cx, p.cy, 2.5, 0, 2 * Math.PI);
    context.fill();
  }
  const marked = state.marked != null && points.find((p) => p.id === state.marked);
  if (marked) {
    context.strokeStyle = '#111';
    context.lineWidth = 2;
    context.beginPath();
    context.arc(marked.cx, marked.cy, 9, 0, 2 * Math.PI);
    context.stroke();
  }
  canvas.dataset.points = String(points.length);
  canvas.dataset.marked = marked ? String(marked.id) : '';
}

function showOnMap(id) {
  state.marked = id;
  showTab('map');
  setStatus(`#${id} is ringed on the map`);
}

function nearestPoint(event) {
  const canvas = $('#map');
  if (!state.map) return null;
  const box = canvas.getBoundingClientRect();
  const x = (event.clientX - box.left) * (canvas.width / box.width), y = (event.clientY - box.top) * (canvas.height / box.height);
  let best = null, bestDistance = 36;
  for (const p of state.map.points) {
    const d = (p.cx - x) ** 2 + (p.cy - y) ** 2;
    if (d < bestDistance) { best = p; bestDistance = d; }
  }
  return best;
}

$('#map').addEventListener('mousemove', (event) => {
  const tip = $('#map-tip');
  const p = nearestPoint(event);
  if (!p) { tip.hidden = true; return; }
  const box = $('#map').getBoundingClientRect();
  tip.replaceChildren(element('img', { src: `/api/images/${p.id}/thumb`, alt: breedName(p.breed) }),
                      element('div', { text: `#${p.id} ${breedName(p.breed)}` }));
  tip.style.left = `${event.clientX - box.left + 12}px`;
  tip.style.top = `${event.clientY - box.top + 12}px`;
  tip.hidden = false;
});
$('#map').addEventListener('mouseleave', () => { $('#map-tip').hidden = true; });
$('#map').addEventListener('click', (event) => { const p = nearestPoint(event); if (p) searchById(p.id); });

// ---- start ----
api('/api/stats').then((stats) => {
  $('#gallery-summary').textContent = `${stats.images} photos of ${stats.breeds} breeds · ` +
    `${stats.model.backbone} ${stats.model.input_size} px, ${stats.model.dimension}-d embeddings`;
  setStatus('ready: click a photo to search from it, or drop one of yours under Search');
}).catch((error) => setStatus(error.message, true));
showGalleryPage();
