// The event catalogue: every type with its description, data type and an example
// notification body (the envelope of contract §5 around the type's example data).
import {h, pre} from './dom.js';
import {eventTypes} from './api.js';
import {problemBox} from './common.js';

export const MODULE_ORDER = ['processing', 'billing', 'management', 'system'];

export function byModule(types) {
  const groups = new Map();
  for (const t of types) {
    if (!groups.has(t.module)) groups.set(t.module, []);
    groups.get(t.module).push(t);
  }
  const rank = (m) => (MODULE_ORDER.indexOf(m) === -1 ? MODULE_ORDER.length : MODULE_ORDER.indexOf(m));
  return [...groups.entries()].sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
}

// What a receiver gets for this type: the notification body around the example data.
export function exampleBody(t) {
  return {
    notificationId: 'ntf_0123456789abcdef01234567', eventCode: t.code, eventDate: 1764892800000,
    dataType: t.dataType, resellerId: 'R-1001', portfolioId: 'P-2001', merchantId: 'M-3001',
    data: t.example === undefined ? {} : t.example,
  };
}

export function exampleDetails(t, summary) {
  if (t.example === undefined) return summary ? h('p', {class: 'muted'}, 'No example data on this server.') : null;
  return h('details', {class: 'example'}, h('summary', {}, summary || 'Example payload'), pre(exampleBody(t)));
}

export async function cataloguePage() {
  let types;
  try {
    types = await eventTypes();
  } catch (e) {
    return [h('h1', {}, 'Event catalogue'), problemBox(e, 'The catalogue could not be read')];
  }
  return [
    h('h1', {}, 'Event catalogue'),
    h('p', {}, `${types.length} event types. Each notification is a JSON object; its "data" depends on the type.`),
    byModule(types).map(([module, list]) => h('section', {class: 'module'},
      h('h2', {}, module),
      list.map((t) => h('article', {class: 'type', id: `type-${t.code}`},
        h('h3', {}, h('code', {}, t.code)),
        h('p', {}, t.description),
        h('p', {class: 'muted'}, `Data type: ${t.dataType}`),
        exampleDetails(t, 'Example notification body'))))),
  ];
}
