// Register an endpoint: the form, then the signing secret shown once.
import {field, h, uid} from './dom.js';
import {call, eventTypes, me} from './api.js';
import {problemBox, secretPanel} from './common.js';
import {endpointForm} from './form.js';

export async function registerPage() {
  let types;
  try {
    types = await eventTypes();
  } catch (e) {
    return [h('h1', {}, 'Register an endpoint'), problemBox(e, 'The event catalogue could not be read')];
  }
  const principal = await me().catch(() => null);
  const scopes = scopeField(principal);
  const container = h('div', {});
  const form = endpointForm({
    types, scopes, submitLabel: 'Register endpoint',
    onSubmit: async (body, showErrors) => {
      try {
        const ep = await call('POST', '/endpoints', body);
        container.replaceChildren(created(ep));
        container.querySelector('h2').focus();
      } catch (e) {
        showErrors(e);
      }
    },
  });
  container.append(form);
  return [h('h1', {}, 'Register an endpoint'),
    h('p', {}, 'Notifications are signed with a secret that is shown once, right after registration.'), container];
}

function created(ep) {
  return h('section', {class: 'created'},
    h('h2', {tabindex: '-1'}, 'Endpoint registered'),
    h('p', {}, 'Your endpoint ', h('a', {href: `#/endpoints/${encodeURIComponent(ep.id)}`}, ep.url), ` (${ep.id}) is registered.`),
    secretPanel(ep.secret),
    h('p', {}, h('a', {href: `#/endpoints/${encodeURIComponent(ep.id)}`}, 'Go to the endpoint'), ' · ',
      h('a', {href: '#/endpoints'}, 'Back to your endpoints')));
}

// The scope: nothing to choose with one; a select with several; free entry for an
// administrator (any scope) or when the server cannot say (GET /me missing).
function scopeField(principal) {
  const scopes = principal ? principal.scopes : [];
  if (principal && !principal.admin && scopes.length === 1) {
    const only = scopes[0];
    return {wrap: h('p', {class: 'scope-fixed'}, `Scope: ${only.kind} ${only.id}`), value: () => scopeBody(only.kind, only.id)};
  }
  if (principal && !principal.admin && scopes.length > 1) {
    const f = field('Scope', h('select', {name: 'scope'},
      scopes.map((s, i) => h('option', {value: String(i)}, `${s.kind} ${s.id}`))), 'The reseller or portfolio whose events this endpoint receives.');
    return {...f, value: () => { const s = scopes[Number(f.control.value)]; return scopeBody(s.kind, s.id); }};
  }
  const kind = h('select', {name: 'scopeKind', id: uid('kind')}, h('option', {value: 'reseller'}, 'reseller'), h('option', {value: 'portfolio'}, 'portfolio'));
  const f = field('Scope id', h('input', {type: 'text', name: 'scopeId', autocomplete: 'off', value: scopes.length ? scopes[0].id : ''}),
    'The reseller or portfolio id whose events this endpoint receives.');
  const wrap = h('div', {class: 'field-pair'}, h('div', {class: 'field'}, h('label', {for: kind.id}, 'Scope kind'), kind), f.wrap);
  if (scopes.length) kind.value = scopes[0].kind;
  return {wrap, control: f.control, error: f.error, value: () => scopeBody(kind.value, f.control.value.trim())};
}

function scopeBody(kind, id) {
  return kind === 'portfolio' ? {portfolioId: id} : {resellerId: id};
}
