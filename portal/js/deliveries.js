// The delivery log of an endpoint (filters: status, event type, time range; the API's
// paging) and one notification: the body and headers as sent, every attempt, Redeliver.
import {clear, dl, field, fmtMs, fmtTime, h, pre, setFieldError, statusLine} from './dom.js';
import {call, enc, eventTypes, get, query} from './api.js';
import {pager, problemBox, statusBadge} from './common.js';
import {parseTime} from './endpoint.js';

const STATUSES = ['pending', 'inflight', 'delivered', 'failed', 'cancelled'];
const PAGE = 25;

export async function deliveryLog(id, q) {
  const types = await eventTypes().catch(() => []);
  const head = [h('h1', {}, 'Delivery log'),
    h('p', {}, h('a', {href: `#/endpoints/${enc(id)}`}, 'Back to the endpoint'))];
  const {form, fields} = filterForm(id, q, types);
  const params = {status: q.status, eventCode: q.eventCode, since: q.since, until: q.until, after: q.after, limit: PAGE};
  let page;
  try {
    page = await get(`/endpoints/${enc(id)}/deliveries${query(params)}`);
  } catch (e) {
    for (const err of e.errors) if (fields[err.field]) setFieldError(fields[err.field], err.message);
    return [head, form, problemBox(e, 'The log could not be read')];
  }
  if (!page.deliveries.length) return [head, form, h('p', {}, 'No notification matches.')];
  const table = h('table', {class: 'list'},
    h('caption', {}, 'Notifications, newest first'),
    h('thead', {}, h('tr', {}, ['Notification', 'Event type', 'Status', 'Attempts', 'Last attempt', 'HTTP', 'Created'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, page.deliveries.map((d) => h('tr', {'data-notification': d.notificationId},
      h('th', {scope: 'row'}, h('a', {href: `#/deliveries/${enc(d.notificationId)}`}, d.notificationId), d.test ? h('span', {class: 'badge badge-test'}, 'test') : null),
      h('td', {}, d.eventCode), h('td', {}, statusBadge(d.status)), h('td', {}, String(d.attemptCount)),
      h('td', {}, fmtTime(d.lastAttemptAt)), h('td', {}, d.lastHttpStatus ? String(d.lastHttpStatus) : '—'),
      h('td', {}, fmtTime(d.createdAt))))));
  return [head, form, h('div', {class: 'table-wrap'}, table), pager(`#/endpoints/${enc(id)}/deliveries`, withoutEmpty(q), page.next)];
}

function withoutEmpty(q) {
  return Object.fromEntries(Object.entries(q).filter(([, v]) => v));
}

function filterForm(id, q, types) {
  const fields = {
    status: field('Status', h('select', {name: 'status'}, h('option', {value: ''}, 'any'), STATUSES.map((s) => h('option', {value: s, selected: q.status === s}, s)))),
    eventCode: field('Event type', h('select', {name: 'eventCode'}, h('option', {value: ''}, 'any'),
      types.map((t) => h('option', {value: t.code, selected: q.eventCode === t.code}, t.code)))),
    since: field('From', h('input', {type: 'text', name: 'since', value: q.since || '', spellcheck: 'false', autocomplete: 'off', placeholder: '2026-12-05T08:00:00Z'})),
    until: field('To', h('input', {type: 'text', name: 'until', value: q.until || '', spellcheck: 'false', autocomplete: 'off', placeholder: '2026-12-05T09:00:00Z'})),
  };
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter notifications', novalidate: true},
    Object.values(fields).map((f) => f.wrap), h('div', {class: 'actions'}, h('button', {type: 'submit'}, 'Apply filters')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = {};
    for (const key of ['status', 'eventCode']) if (fields[key].control.value) next[key] = fields[key].control.value;
    for (const key of ['since', 'until']) {
      const raw = fields[key].control.value;
      if (!raw.trim()) continue;
      // A time we cannot read goes to the API as typed, so its 422 names the field.
      next[key] = parseTime(raw) || raw;
    }
    const s = new URLSearchParams(next).toString();
    location.hash = `#/endpoints/${enc(id)}/deliveries${s ? `?${s}` : ''}`;
  });
  return {form, fields};
}

export async function notificationPage(ntf) {
  let d;
  try {
    d = await get(`/deliveries/${enc(ntf)}`);
  } catch (e) {
    return [h('h1', {}, 'Notification'), problemBox(e, `Notification ${ntf} could not be read`)];
  }
  const status = statusLine();
  const redeliver = h('button', {type: 'button'}, 'Redeliver');
  redeliver.addEventListener('click', async () => {
    try {
      await call('POST', `/deliveries/${enc(ntf)}/redeliver`);
      clear(status, 'Queued for delivery. ', h('a', {href: `#/deliveries/${enc(ntf)}`, 'data-refresh': ''}, 'Refresh'), ' to see the new attempt.');
      followRedelivery(ntf, d.attemptCount, status);
    } catch (e) {
      clear(status, e.status === 409 ? h('span', {class: 'error'}, `Cannot redeliver now: ${e.message}`) : problemBox(e));
    }
  });
  return [
    h('h1', {}, 'Notification ', h('code', {}, ntf)),
    h('p', {}, h('a', {href: `#/endpoints/${enc(d.endpointId)}/deliveries`}, 'Back to the delivery log')),
    h('div', {class: 'facts-wrap'}, dl([
      ['Status', [statusBadge(d.status), d.test ? h('span', {class: 'badge badge-test'}, 'test') : null]],
      ['Event type', d.eventCode], ['Event', h('code', {}, d.eventId)],
      ['Endpoint', h('a', {href: `#/endpoints/${enc(d.endpointId)}`}, d.endpointId)],
      ['Attempts', String(d.attemptCount)], ['Next attempt', fmtTime(d.nextAttemptAt)],
      ['Delivered', fmtTime(d.deliveredAt)], ['Created', fmtTime(d.createdAt)],
    ])),
    h('div', {class: 'actions'}, redeliver), status,
    requestSection(d),
    attemptsSection(d),
  ];
}

// Re-reads the notification until the requested attempt is recorded, then redraws the page.
async function followRedelivery(ntf, before, status) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 400));
    const d = await get(`/deliveries/${enc(ntf)}`).catch(() => null);
    if (d && d.attemptCount > before && !['pending', 'inflight'].includes(d.status)) {
      if (location.hash === `#/deliveries/${enc(ntf)}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
      return;
    }
  }
  clear(status, 'Still waiting for the new attempt; refresh later.');
}

function requestSection(d) {
  if (!d.request) return h('section', {'aria-labelledby': 'req-h'}, h('h2', {id: 'req-h'}, 'As sent'), h('p', {class: 'note'}, 'This server does not show the request as sent.'));
  const headers = Object.entries(d.request.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
  return h('section', {'aria-labelledby': 'req-h'}, h('h2', {id: 'req-h'}, 'As sent'),
    h('h3', {}, 'Headers'), pre(headers),
    h('h3', {}, 'Body'), pre(d.request.body));
}

function attemptsSection(d) {
  const attempts = d.attempts || [];
  if (!attempts.length) return h('section', {'aria-labelledby': 'att-h'}, h('h2', {id: 'att-h'}, 'Attempts'), h('p', {}, 'No attempt yet.'));
  return h('section', {'aria-labelledby': 'att-h'}, h('h2', {id: 'att-h'}, 'Attempts'),
    attempts.map((a) => h('article', {class: 'attempt', 'data-attempt': a.attemptNo},
      h('h3', {}, `Attempt ${a.attemptNo}: ${a.outcome}`),
      dl([
        ['Started', fmtTime(a.startedAt)], ['HTTP status', a.httpStatus ? String(a.httpStatus) : '—'],
        ['Latency', fmtMs(a.durationMs)], ['Error class', a.errorClass || '—'], ['Message', a.errorMessage || '—'],
        ['Reply', a.responseExcerpt ? pre(a.responseExcerpt) : '—'],
      ]))));
}
