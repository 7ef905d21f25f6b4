// The endpoint form, shared by Register and Edit: the fixed labels ("URL", "Event types",
// "Username", "Password", "Acknowledgement", "Description"), and the API's problem+json
// `errors` shown beside the field each one names.
import {field, h, setFieldError, uid} from './dom.js';
import {byModule, exampleDetails} from './catalogue.js';

const ACK_MODES = [
  ['notification-id', 'Reply with the notification id (recommended)'],
  ['status', 'Any 2xx status'],
];

export function endpointForm({types, scopes, endpoint, submitLabel, onSubmit}) {
  const f = {};
  f.url = field('URL', h('input', {type: 'url', name: 'url', autocomplete: 'url', spellcheck: 'false', required: true, value: endpoint ? endpoint.url : ''}),
    'Where notifications are POSTed: http:// or https://');
  if (scopes) f.scope = scopes;
  f.types = typesField(types, endpoint ? endpoint.eventTypes : []);
  f.username = field('Username', h('input', {type: 'text', name: 'username', autocomplete: 'off', value: endpoint && endpoint.username ? endpoint.username : ''}),
    endpoint && endpoint.hasPassword ? 'Leave the password empty to keep the current one.' : 'Optional: sent to your URL as HTTP Basic authentication, together with the password.');
  f.password = field('Password', h('input', {type: 'password', name: 'password', autocomplete: 'new-password'}));
  f.ackMode = field('Acknowledgement', h('select', {name: 'ackMode'},
    ACK_MODES.map(([v, t]) => h('option', {value: v, selected: endpoint && endpoint.ackMode === v}, t))),
  'What counts as delivered: a 2xx reply whose JSON body has our notificationId, or any 2xx.');
  f.description = field('Description', h('textarea', {name: 'description', rows: 2, maxlength: 1024}, endpoint && endpoint.description ? endpoint.description : ''));
  let removeCreds = null;
  if (endpoint && endpoint.username) {
    removeCreds = h('input', {type: 'checkbox', id: uid('rm'), name: 'removeCredentials'});
  }
  const summary = h('div', {class: 'form-errors', role: 'alert'});
  const button = h('button', {type: 'submit', class: 'primary'}, submitLabel);
  const form = h('form', {novalidate: true, class: 'endpoint-form'},
    f.url.wrap, scopes ? scopes.wrap : null, f.types.wrap, f.username.wrap, f.password.wrap,
    removeCreds ? h('div', {class: 'field check'}, removeCreds, h('label', {for: removeCreds.id}, 'Remove the username and password')) : null,
    f.ackMode.wrap, f.description.wrap, summary, h('div', {class: 'actions'}, button));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f, summary);
    button.disabled = true;
    try {
      await onSubmit(values(f, endpoint, removeCreds), (err) => showErrors(f, summary, err));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function typesField(types, selected) {
  const boxes = [];
  const groups = byModule(types).map(([module, list]) => h('fieldset', {class: 'module-group'},
    h('legend', {}, module),
    list.map((t) => {
      const box = h('input', {type: 'checkbox', name: 'eventTypes', value: t.code, id: uid('et'), checked: selected.includes(t.code)});
      const desc = h('span', {class: 'desc', id: `${box.id}-desc`}, t.description);
      box.setAttribute('aria-describedby', desc.id);
      boxes.push(box);
      return h('div', {class: 'type-choice'}, box, h('label', {for: box.id}, h('code', {}, t.code)), desc, exampleDetails(t));
    })));
  const error = h('p', {class: 'error', id: uid('types-error'), hidden: true});
  const wrap = h('fieldset', {class: 'field types', id: uid('types')}, h('legend', {}, 'Event types'), error, groups);
  // The group itself is where the error lands and what gets focus on an error.
  wrap.tabIndex = -1;
  return {wrap, control: wrap, error, boxes};
}

function values(f, endpoint, removeCreds) {
  const v = {url: f.url.control.value.trim(), eventTypes: f.types.boxes.filter((b) => b.checked).map((b) => b.value),
    ackMode: f.ackMode.control.value};
  const description = f.description.control.value;
  if (description.trim() || (endpoint && endpoint.description)) v.description = description.trim() ? description : null;
  const user = f.username.control.value;
  const password = f.password.control.value;
  if (removeCreds && removeCreds.checked) {
    v.username = null;
    v.password = null;
  } else if (user || password) {
    if (!endpoint || password || user !== endpoint.username) {
      v.username = user;
      v.password = password;
    }
  }
  if (f.scope) Object.assign(v, f.scope.value());
  return v;
}

// API field name -> form field ("eventTypes[2]" -> the event types group).
function fieldFor(f, name) {
  const base = String(name || '').replace(/\[\d+\]$/, '');
  if (base === 'resellerId' || base === 'portfolioId') return f.scope || null;
  return {url: f.url, eventTypes: f.types, username: f.username, password: f.password, ackMode: f.ackMode, description: f.description}[base] || null;
}

function clearErrors(f, summary) {
  for (const x of [f.url, f.types, f.username, f.password, f.ackMode, f.description, f.scope]) {
    if (!x) continue;
    if (x === f.types) {
      x.error.hidden = true;
      x.error.textContent = '';
      x.wrap.removeAttribute('aria-invalid');
    } else setFieldError(x, null);
  }
  summary.replaceChildren();
}

function showErrors(f, summary, err) {
  const byField = new Map();
  const rest = [];
  for (const e of err.errors || []) {
    const target = fieldFor(f, e.field);
    if (!target) {
      rest.push(e.field ? `${e.field}: ${e.message}` : e.message);
      continue;
    }
    if (!byField.has(target)) byField.set(target, []);
    byField.get(target).push(e.field && /\[\d+\]$/.test(e.field) ? `${e.field}: ${e.message}` : e.message);
  }
  for (const [target, messages] of byField) {
    if (target === f.types) {
      target.error.textContent = messages.join('; ');
      target.error.hidden = false;
      target.wrap.setAttribute('aria-invalid', 'true');
    } else setFieldError(target, messages.join('; '));
  }
  const count = (err.errors || []).length;
  summary.append(h('p', {}, count ? `The endpoint was not saved: ${count === 1 ? 'one field needs' : `${count} fields need`} attention.` : `The endpoint was not saved: ${err.message}${err.status ? ` (HTTP ${err.status})` : ''}`));
  if (rest.length) summary.append(h('ul', {}, rest.map((r) => h('li', {}, r))));
  const first = byField.keys().next().value;
  if (first) (first === f.types ? first.wrap : first.control).focus();
}
