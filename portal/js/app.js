// The portal's router: hash routes (#/endpoints, #/register, #/endpoints/{id},
// #/endpoints/{id}/deliveries, #/deliveries/{id}, #/event-types), so the static files need
// no server-side rewriting. Each page renders into <main> and moves focus there.
import {clear, h} from './dom.js';
import {me} from './api.js';
import {endpointList} from './endpoints.js';
import {registerPage} from './register.js';
import {endpointPage} from './endpoint.js';
import {deliveryLog, notificationPage} from './deliveries.js';
import {cataloguePage} from './catalogue.js';
import {problemBox} from './common.js';

const routes = [
  [/^\/?$/, () => endpointList({})],
  [/^\/endpoints$/, (m, q) => endpointList(q)],
  [/^\/register$/, () => registerPage()],
  [/^\/endpoints\/([^/]+)$/, (m) => endpointPage(decodeURIComponent(m[1]))],
  [/^\/endpoints\/([^/]+)\/deliveries$/, (m, q) => deliveryLog(decodeURIComponent(m[1]), q)],
  [/^\/deliveries\/([^/]+)$/, (m) => notificationPage(decodeURIComponent(m[1]))],
  [/^\/event-types$/, () => cataloguePage()],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  return {path, query: Object.fromEntries(new URLSearchParams(qs || ''))};
}

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  const {path, query} = parseHash();
  markNav(path);
  const route = routes.find(([re]) => re.test(path));
  let page;
  try {
    page = route ? await route[1](path.match(route[0]), query) : notFound();
  } catch (e) {
    page = [h('h1', {}, 'Something went wrong'), problemBox(e)];
  }
  if (seq !== renderSeq) return;  // a newer navigation won
  clear(main, page);
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} – Webhooks` : 'Webhooks';
  if (!main.contains(document.activeElement) || document.activeElement === main) main.focus();
}

function notFound() {
  return [h('h1', {}, 'Page not found'), h('p', {}, h('a', {href: '#/endpoints'}, 'Go to your endpoints'))];
}

function markNav(path) {
  for (const a of document.querySelectorAll('nav a')) {
    const target = a.getAttribute('href').slice(1);
    if (path === target || (target === '/endpoints' && path === '/')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function showWho() {
  const who = document.getElementById('who');
  try {
    const m = await me();
    const scopes = m.admin ? 'administrator' : m.scopes.map((s) => `${s.kind} ${s.id}`).join(', ') || 'no scope';
    clear(who, 'Signed in as ', h('strong', {}, m.user), ` (${scopes})`);
  } catch (e) {
    clear(who);
  }
}

// Other pages re-render the current route after a change (e.g. Delete goes back to the list).
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

window.addEventListener('hashchange', render);
showWho();
render();
