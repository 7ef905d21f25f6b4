// The endpoint list: one page of the API's list (its own `next` paging, so thousands of
// endpoints cost one page at a time), each visible row completed by its 24 h stats.
import {clear, fmtRate, fmtTime, h} from './dom.js';
import {enc, get, query} from './api.js';
import {pager, problemBox} from './common.js';

const PAGE = 25;

export async function endpointList(q) {
  const page = await get(`/endpoints${query({limit: PAGE, after: q.after})}`).catch((e) => e);
  const head = [h('h1', {}, 'Your endpoints'), h('p', {}, h('a', {href: '#/register', class: 'button-link'}, 'Register an endpoint'))];
  if (page instanceof Error) return [head, problemBox(page, 'The endpoints could not be listed')];
  if (!page.endpoints.length) return [head, h('p', {}, q.after ? 'No more endpoints.' : 'No endpoint is registered yet.')];
  const rows = page.endpoints.map(row);
  const table = h('table', {class: 'list'},
    h('caption', {}, 'Endpoints, oldest first'),
    h('thead', {}, h('tr', {}, ['URL', 'State', 'Event types', 'Success (24 h)', 'Pending', 'Last error'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, rows.map((r) => r.tr)));
  // Stats per visible row, in parallel; the table is usable before they arrive.
  Promise.all(rows.map((r) => r.fillStats()));
  return [head, h('div', {class: 'table-wrap'}, table), pager('#/endpoints', q, page.next)];
}

function row(ep) {
  const rate = h('td', {}, '…');
  const pending = h('td', {}, '…');
  const lastError = h('td', {}, '…');
  const state = ep.enabled ? h('span', {class: 'badge badge-delivered'}, 'enabled')
    : [h('span', {class: 'badge badge-failed'}, 'disabled'), ep.disabledReason ? h('span', {class: 'reason'}, ` ${ep.disabledReason}`) : null];
  const tr = h('tr', {'data-endpoint': ep.id},
    h('th', {scope: 'row'}, h('a', {href: `#/endpoints/${enc(ep.id)}`}, ep.url),
      h('span', {class: 'sub'}, ep.description ? ` ${ep.description}` : '')),
    h('td', {}, state),
    h('td', {}, String(ep.eventTypes.length)),
    rate, pending, lastError);
  async function fillStats() {
    try {
      const s = await get(`/endpoints/${enc(ep.id)}/stats`);
      clear(rate, s.attempts ? `${fmtRate(s.successRate)} of ${s.attempts}` : 'no attempts');
      clear(pending, String(s.pending));
      clear(lastError, s.lastError ? describeError(s.lastError) : 'none');
    } catch (e) {
      for (const td of [rate, pending, lastError]) clear(td, h('span', {class: 'muted'}, 'n/a'));
      rate.title = e.status === 404 ? 'statistics are not available on this server' : e.message;
    }
  }
  return {tr, fillStats};
}

export function describeError(err) {
  const what = [err.httpStatus ? `HTTP ${err.httpStatus}` : null, err.errorClass, err.message].filter(Boolean).join(' · ');
  return `${fmtTime(err.at)}: ${what || 'failed'}`;
}
