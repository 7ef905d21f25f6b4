// One endpoint: its health (24 h stats), Send test event, Disable/Enable, Rotate secret,
// Delete, Recover, and the edit form.
import {clear, dl, fmtMs, fmtRate, fmtTime, h, pre, statusLine, uid} from './dom.js';
import {call, enc, eventTypes, get} from './api.js';
import {problemBox, secretPanel, statusBadge, unavailable} from './common.js';
import {endpointForm} from './form.js';
import {describeError} from './endpoints.js';
import {go} from './app.js';

export async function endpointPage(id) {
  let ep;
  try {
    ep = await get(`/endpoints/${enc(id)}`);
  } catch (e) {
    return [h('h1', {}, 'Endpoint'), problemBox(e, `Endpoint ${id} could not be read`)];
  }
  const types = await eventTypes().catch(() => []);
  const page = h('div', {class: 'endpoint-page'});
  // After a change the page is drawn again from the API's answer; focus goes back to the
  // control the person used (its replacement), so keyboard users keep their place.
  const refresh = async (focusText) => {
    const fresh = await get(`/endpoints/${enc(id)}`);
    clear(page, renderSections(fresh, types, refresh));
    const again = [...page.querySelectorAll('button')].find((b) => b.textContent === focusText);
    if (again) again.focus();
  };
  clear(page, renderSections(ep, types, refresh));
  return page;
}

function renderSections(ep, types, refresh) {
  const base = `/endpoints/${enc(ep.id)}`;
  return [
    h('h1', {}, h('span', {class: 'muted'}, 'Endpoint '), ep.url),
    summary(ep),
    h('p', {}, h('a', {href: `#/endpoints/${enc(ep.id)}/deliveries`}, 'Delivery log'), ' · ', h('a', {href: '#/endpoints'}, 'All endpoints')),
    healthSection(base),
    testSection(ep, base, types),
    manageSection(ep, base, refresh),
    recoverSection(base),
    editSection(ep, base, types, refresh),
  ];
}

function summary(ep) {
  const scope = ep.resellerId !== undefined ? `reseller ${ep.resellerId}` : `portfolio ${ep.portfolioId}`;
  return dl([
    ['Id', h('code', {}, ep.id)],
    ['Scope', scope],
    ['State', ep.enabled ? 'enabled' : `disabled${ep.disabledReason ? `: ${ep.disabledReason}` : ''}`],
    ['Event types', ep.eventTypes.join(', ')],
    ['Username', ep.username ? `${ep.username} (password ${ep.hasPassword ? 'set' : 'not set'})` : 'none'],
    ['Acknowledgement', ep.ackMode],
    ['Description', ep.description || '—'],
    ['Created', fmtTime(ep.createdAt)],
    ['Updated', fmtTime(ep.updatedAt)],
  ]);
}

function healthSection(base) {
  const body = h('div', {}, h('p', {}, 'Loading…'));
  get(`${base}/stats`).then((s) => clear(body, dl([
    ['Attempts', String(s.attempts)],
    ['Succeeded', String(s.succeeded)],
    ['Failed', String(s.failed)],
    ['Success rate', fmtRate(s.successRate)],
    ['Latency p50', fmtMs(s.latencyMs.p50)],
    ['Latency p95', fmtMs(s.latencyMs.p95)],
    ['Pending', String(s.pending)],
    ['Oldest pending', fmtTime(s.oldestPendingAt)],
    ['Last error', s.lastError ? describeError(s.lastError) : 'none'],
  ])), (e) => clear(body, unavailable('Health statistics', e)));
  return h('section', {class: 'card', 'aria-labelledby': 'health-h'}, h('h2', {id: 'health-h'}, 'Health (last 24 hours)'), body);
}

function testSection(ep, base, types) {
  const select = h('select', {id: uid('test-type'), name: 'testEventType'},
    (types.length ? types.map((t) => t.code) : ep.eventTypes).map((code) => h('option', {value: code, selected: code === ep.eventTypes[0]}, code)));
  const result = h('div', {class: 'test-result', 'aria-live': 'polite'});
  const button = h('button', {type: 'button'}, 'Send test event');
  button.addEventListener('click', async () => {
    button.disabled = true;
    clear(result, h('p', {role: 'status'}, 'Sending…'));
    try {
      const {notificationId} = await call('POST', `${base}/test`, {eventCode: select.value});
      await followTest(notificationId, result);
    } catch (e) {
      clear(result, testProblem(e));
    } finally {
      button.disabled = false;
    }
  });
  return h('section', {class: 'card', 'aria-labelledby': 'test-h'}, h('h2', {id: 'test-h'}, 'Send a test event'),
    h('p', {}, 'One notification of the chosen type with example data, signed like any other. It gets one attempt and is marked as a test in the log.'),
    h('div', {class: 'field'}, h('label', {for: select.id}, 'Test event type'), select),
    h('div', {class: 'actions'}, button), result);
}

function testProblem(e) {
  if (e.status === 409) return h('p', {class: 'problem', role: 'alert'}, 'The endpoint is disabled: enable it to send a test event.');
  if (e.status === 429) return h('p', {class: 'problem', role: 'alert'}, `Too many test events for this endpoint: try again in ${e.retryAfter || 'a few'} seconds.`);
  return unavailable('Sending a test event', e);
}

const FINAL = new Set(['delivered', 'failed', 'cancelled']);

// Polls the notification until its one attempt is recorded, then shows it in place.
async function followTest(ntf, result) {
  const deadline = Date.now() + 30000;
  let d;
  for (;;) {
    d = await get(`/deliveries/${enc(ntf)}`);
    if (FINAL.has(d.status) || Date.now() > deadline) break;
    clear(result, h('p', {role: 'status'}, `Test notification ${ntf}: ${d.status}…`));
    await new Promise((r) => setTimeout(r, 400));
  }
  const a = (d.attempts || [])[d.attempts.length - 1] || {};
  clear(result, h('div', {class: 'card-inner', role: 'status'},
    h('p', {}, 'Test notification ', h('a', {href: `#/deliveries/${enc(ntf)}`}, ntf), ': ', statusBadge(d.status)),
    dl([
      ['HTTP status', a.httpStatus ? String(a.httpStatus) : '—'],
      ['Latency', fmtMs(a.durationMs)],
      a.errorClass ? ['Error', `${a.errorClass}${a.errorMessage ? `: ${a.errorMessage}` : ''}`] : null,
      ['Reply', a.responseExcerpt ? pre(a.responseExcerpt) : '—'],
    ])));
}

function manageSection(ep, base, refresh) {
  const status = statusLine();
  const toggle = h('button', {type: 'button'}, ep.enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', async () => {
    try {
      await call('PATCH', base, {enabled: !ep.enabled});
      await refresh(ep.enabled ? 'Enable' : 'Disable');
    } catch (e) {
      clear(status, problemBox(e));
    }
  });
  const secretArea = h('div', {});
  const rotate = h('button', {type: 'button'}, 'Rotate secret');
  rotate.addEventListener('click', async () => {
    try {
      const r = await call('POST', `${base}/rotate-secret`);
      clear(secretArea, h('p', {}, 'The new secret signs from now on; the old one keeps signing beside it for 24 hours.'), secretPanel(r.secret));
      secretArea.querySelector('input').focus();
    } catch (e) {
      clear(secretArea, problemBox(e));
    }
  });
  const del = h('button', {type: 'button', class: 'danger'}, 'Delete');
  const dialog = deleteDialog(ep, base, status);
  del.addEventListener('click', () => dialog.showModal());
  return h('section', {class: 'card', 'aria-labelledby': 'manage-h'}, h('h2', {id: 'manage-h'}, 'Manage'),
    h('div', {class: 'actions'}, toggle, rotate, del), status, secretArea, dialog);
}

function deleteDialog(ep, base, status) {
  const title = uid('del-title');
  const confirm = h('button', {type: 'button', class: 'danger'}, 'Delete endpoint');
  const cancel = h('button', {type: 'button', class: 'secondary', autofocus: true}, 'Cancel');
  const dialog = h('dialog', {'aria-labelledby': title},
    h('h2', {id: title}, 'Delete this endpoint?'),
    h('p', {}, `${ep.url} stops receiving notifications and its pending notifications are cancelled. This cannot be undone.`),
    h('div', {class: 'actions'}, confirm, cancel));
  cancel.addEventListener('click', () => dialog.close());
  confirm.addEventListener('click', async () => {
    try {
      await call('DELETE', base);
      dialog.close();
      go('#/endpoints');
    } catch (e) {
      dialog.close();
      clear(status, problemBox(e));
    }
  });
  return dialog;
}

function recoverSection(base) {
  const since = h('input', {type: 'text', id: uid('since'), name: 'since', spellcheck: 'false', autocomplete: 'off',
    value: new Date(Date.now() - 3600 * 1000).toISOString().replace(/\.\d+Z$/, 'Z')});
  const hint = h('p', {class: 'hint', id: `${since.id}-hint`}, 'A date and time, e.g. 2026-12-05T08:00:00Z (UTC) or 2026-12-05 09:00 (your local time).');
  since.setAttribute('aria-describedby', hint.id);
  const status = statusLine();
  const button = h('button', {type: 'button'}, 'Recover');
  button.addEventListener('click', async () => {
    const when = parseTime(since.value);
    if (!when) {
      clear(status, h('span', {class: 'error'}, 'Enter a date and time, e.g. 2026-12-05T08:00:00Z.'));
      since.focus();
      return;
    }
    try {
      const r = await call('POST', `${base}/recover`, {since: when});
      clear(status, `${r.requeued} failed notification${r.requeued === 1 ? '' : 's'} since ${fmtTime(when)} will be sent again.`);
    } catch (e) {
      clear(status, problemBox(e));
    }
  });
  return h('section', {class: 'card', 'aria-labelledby': 'recover-h'}, h('h2', {id: 'recover-h'}, 'Recover failed notifications'),
    h('p', {}, 'Send again every notification that failed since a date and time.'),
    h('div', {class: 'field'}, h('label', {for: since.id}, 'Recover since'), since, hint),
    h('div', {class: 'actions'}, button), status);
}

// RFC 3339 in UTC for the API, from what a person types (UTC with Z/offset, or local time).
export function parseTime(text) {
  const t = text.trim();
  if (!t) return null;
  const local = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/.test(t);
  const d = new Date(local ? t.replace(' ', 'T') : t);
  if (Number.isNaN(d.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(t)) return null;
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

function editSection(ep, base, types, refresh) {
  const status = statusLine('status edit-status');
  const form = endpointForm({
    types, endpoint: ep, submitLabel: 'Save changes',
    onSubmit: async (body, showErrors) => {
      try {
        await call('PATCH', base, body);
        await refresh('Save changes');
        const saved = document.querySelector('.edit-status');
        if (saved) saved.textContent = 'Saved.';
      } catch (e) {
        showErrors(e);
      }
    },
  });
  return h('section', {class: 'card', 'aria-labelledby': 'edit-h'}, h('h2', {id: 'edit-h'}, 'Edit'), form, status);
}
