// Pieces several pages share: how an API error is shown, the paging links.
import {h} from './dom.js';

// An API error as a block: the detail, then each named field. role=alert so it is announced.
export function problemBox(err, what) {
  const lines = [];
  if (err && err.status === 401) lines.push('You are not signed in, or your login is not accepted by the server. Reload the page to sign in again.');
  else if (err && err.status === 403) lines.push(`Not allowed: ${err.message}`);
  else lines.push(`${what ? `${what}: ` : ''}${err && err.message ? err.message : String(err)}${err && err.status ? ` (HTTP ${err.status})` : ''}`);
  const items = (err && err.errors ? err.errors : []).map((e) => h('li', {}, e.field ? `${e.field}: ${e.message}` : e.message));
  return h('div', {class: 'problem', role: 'alert'}, lines.map((l) => h('p', {}, l)), items.length ? h('ul', {}, items) : null);
}

// A route this server does not have yet (the module is older than the portal): said plainly.
export function unavailable(what, err) {
  if (err && err.status === 404) return h('p', {class: 'note'}, `${what}: not available on this server (its API route is missing; the module is older than the portal).`);
  return problemBox(err, what);
}

export function pager(baseHash, query, next) {
  const links = [];
  if (query.after) {
    const q = new URLSearchParams(query);
    q.delete('after');
    const s = q.toString();
    links.push(h('a', {href: `${baseHash}${s ? `?${s}` : ''}`}, 'First page'));
  }
  if (next) {
    const q = new URLSearchParams(query);
    q.set('after', next);
    links.push(h('a', {href: `${baseHash}?${q.toString()}`, rel: 'next'}, 'Next page'));
  }
  return links.length ? h('nav', {class: 'pager', 'aria-label': 'Pages'}, links) : null;
}

export function statusBadge(status) {
  return h('span', {class: `badge badge-${status}`}, status);
}

// A signing secret, shown once: the value, a copy button and a plain warning. It is never
// written to storage or a URL; leaving the page forgets it.
export function secretPanel(secret) {
  const value = h('input', {type: 'text', readonly: true, value: secret, id: `secret-${Date.now()}`, class: 'secret', spellcheck: 'false', autocomplete: 'off'});
  const done = h('span', {class: 'copied', role: 'status', 'aria-live': 'polite'});
  const copy = h('button', {type: 'button', class: 'secondary'}, 'Copy secret');
  copy.addEventListener('click', async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(secret);
      done.textContent = 'Copied.';
    } catch (e) {
      done.textContent = document.execCommand && document.execCommand('copy') ? 'Copied.' : 'Select the text and copy it.';
    }
  });
  return h('div', {class: 'secret-panel'},
    h('p', {class: 'warning'}, h('strong', {}, 'Copy this signing secret now. It will not be shown again.'),
      ' Your receiver needs it to verify the webhook-signature header. If you lose it, rotate the secret.'),
    h('div', {class: 'field'}, h('label', {for: value.id}, 'Signing secret'), value),
    h('div', {class: 'actions'}, copy, done));
}
