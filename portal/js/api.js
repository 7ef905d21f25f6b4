// The one way the portal talks to the registration API: same origin, the browser's own
// authentication (Basic, a client certificate, whatever the gateway put in front), JSON in
// and out. Nothing is cached or stored: secrets live only in the page that shows them.

const meta = document.querySelector('meta[name="webhook-api"]');
// Never with user:password@ (a page opened that way has them in its base URL; fetch refuses
// such URLs, and the browser sends its cached login anyway).
const base = new URL((meta && meta.content) || '../v1', document.baseURI);
base.username = '';
base.password = '';
export const apiBase = base.href.replace(/\/$/, '');

export class ApiError extends Error {
  constructor(status, problem, path) {
    super((problem && (problem.detail || problem.title)) || `the server answered ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.errors = (problem && Array.isArray(problem.errors)) ? problem.errors : [];
    this.path = path;
    this.retryAfter = null;
  }
}

export async function call(method, path, body) {
  const init = {method, credentials: 'same-origin', headers: {Accept: 'application/json, application/problem+json'}, cache: 'no-store'};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(apiBase + path, init);
  } catch (e) {
    throw new ApiError(0, {detail: `the API could not be reached (${e.message})`}, path);
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = {detail: text.slice(0, 200)};
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data, path);
    err.retryAfter = res.headers.get('Retry-After');
    throw err;
  }
  return data;
}

export const get = (path) => call('GET', path);

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Whole catalogue and principal, fetched once per page load (they change with a deployment).
let typesPromise = null;
export function eventTypes() {
  if (!typesPromise) typesPromise = get('/event-types').then((d) => d.eventTypes).catch((e) => { typesPromise = null; throw e; });
  return typesPromise;
}

let mePromise = null;
export function me() {
  if (!mePromise) mePromise = get('/me').catch((e) => { mePromise = null; throw e; });
  return mePromise;
}

export const enc = encodeURIComponent;
