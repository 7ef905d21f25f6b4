// Small DOM helpers: every page builds its elements with h(), so no HTML string is ever
// parsed from data the API returned (no innerHTML anywhere).

// h('p', {class: 'x', onclick: fn}, 'text', child, ...) -> element
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'text') el.textContent = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
export function uid(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// A labelled control: <div class="field"><label for=id>Label</label> control <p hint> <p error></div>.
// The error paragraph is where the API's problem+json errors for this field go.
export function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const error = h('p', {class: 'error', id: `${id}-error`, hidden: true});
  const described = [];
  let hintEl = null;
  if (hint) {
    hintEl = h('p', {class: 'hint', id: `${id}-hint`}, hint);
    described.push(hintEl.id);
  }
  if (described.length) control.setAttribute('aria-describedby', described.join(' '));
  const wrap = h('div', {class: 'field'}, h('label', {for: id}, label), control, hintEl, error);
  return {wrap, control, error};
}

export function setFieldError(f, message) {
  const ids = (f.control.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== f.error.id);
  if (message) {
    f.error.textContent = message;
    f.error.hidden = false;
    f.control.setAttribute('aria-invalid', 'true');
    ids.push(f.error.id);
  } else {
    f.error.textContent = '';
    f.error.hidden = true;
    f.control.removeAttribute('aria-invalid');
  }
  if (ids.length) f.control.setAttribute('aria-describedby', ids.join(' '));
  else f.control.removeAttribute('aria-describedby');
}

// A status line that screen readers announce (role=status) for results shown in place.
export function statusLine(cls) {
  return h('p', {class: cls || 'status', role: 'status', 'aria-live': 'polite'});
}

export function dl(pairs) {
  return h('dl', {class: 'facts'}, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}

export function fmtRate(rate) {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)} %`;
}

export function fmtMs(ms) {
  return ms === null || ms === undefined ? '—' : `${ms} ms`;
}

export function pre(value) {
  return h('pre', {class: 'code', tabindex: '0'}, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
}
