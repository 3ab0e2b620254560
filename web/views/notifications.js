// Notifications (admin): alerts off the box by e-mail, webhook and MQTT, each with a send-test button.
import { t } from '../i18n.js';
import { h, field, errorBox, showError, toast, nextId, busy } from '../dom.js';
import { get, put, post, ApiError } from '../api.js';

const input = (type, value, testid, extra = {}) => h('input', { type, value: value ?? '', testid, ...extra });

function check(label, checked, testid) {
  const id = nextId('chk');
  const box = h('input', { type: 'checkbox', id, checked: !!checked, testid });
  return { box, el: h('div', { class: 'check-row' }, box, h('label', { for: id }, label)) };
}

/** A secret field: empty means "keep the stored one", which the placeholder says. */
function secret(isSet, testid) {
  return input('password', '', testid, { autocomplete: 'new-password', placeholder: isSet ? t('notify.secretSet') : t('notify.secretUnset') });
}

/** What waits for a channel that cannot be reached, and why (from GET /api/notifications). */
function channelStatus(st) {
  if (!st || !st.failing) return null;
  return h('p', { class: 'form-error', role: 'status', testid: 'notify-failing' }, t('notify.failing', { n: st.queued, message: st.failing }));
}

function testButton(channel, value) {
  const result = h('p', { class: 'hint', role: 'status', testid: `notify-test-result-${channel}` });
  const button = h('button', { type: 'button', class: 'btn', testid: `notify-test-${channel}` }, t('notify.test'));
  button.addEventListener('click', () => busy(button, async () => {
    result.textContent = t('notify.testing');
    result.className = 'hint';
    try {
      await post('/api/notifications/test', { channel, settings: value() });
      result.textContent = t('notify.testOk');
      result.className = 'hint test-ok';
    } catch (e) {
      result.textContent = t('notify.testFailed', { message: e instanceof ApiError ? e.message : String(e) });
      result.className = 'form-error';
    }
  }));
  return h('div', { class: 'actions' }, button, result);
}

export default function notificationsView() {
  const page = h('section', { class: 'page' }, h('h1', { tabindex: '-1' }, t('notify.title')), h('p', { class: 'muted' }, t('notify.intro')));
  const body = h('div', null, h('p', { class: 'muted' }, t('app.loading')));
  page.append(body);

  (async () => {
    let data;
    try {
      data = await get('/api/notifications');
    } catch (e) {
      body.replaceChildren(h('p', { class: 'form-error', role: 'alert' }, e instanceof ApiError ? e.message : String(e)));
      return;
    }
    const s = data.settings;
    const boxName = input('text', s.boxName, 'notify-boxname', { maxlength: '64', pattern: '[A-Za-z0-9._\\-]*' });
    const vaultHours = input('number', s.vaultLockedHours, 'notify-vault-hours', { min: '0.0003', max: '720', step: 'any' });
    const warnDays = input('number', s.requestWarnDays, 'notify-warn-days', { min: '0', max: '31', step: '1' });
    const repeat = input('number', s.repeatHours, 'notify-repeat', { min: '0', max: '720', step: 'any' });

    const e = s.email;
    const eOn = check(t('notify.email.enabled'), e.enabled, 'notify-email-enabled');
    const eHost = input('text', e.host, 'notify-email-host');
    const ePort = input('number', e.port, 'notify-email-port', { min: '1', max: '65535' });
    const eSec = h('select', { testid: 'notify-email-security' }, ['starttls', 'tls', 'none'].map((v) => h('option', { value: v, selected: e.security === v }, t(`notify.email.security.${v}`))));
    eSec.value = e.security;
    const eUser = input('text', e.user, 'notify-email-user', { autocomplete: 'off' });
    const ePass = secret(e.passwordSet, 'notify-email-password');
    const eFrom = input('email', e.from, 'notify-email-from');
    const eTo = input('text', (e.to || []).join(', '), 'notify-email-to');
    const eCa = input('text', e.caFile, 'notify-email-ca');

    const w = s.webhook;
    const wOn = check(t('notify.webhook.enabled'), w.enabled, 'notify-webhook-enabled');
    const wUrl = input('url', w.url, 'notify-webhook-url');
    const wSecret = secret(w.secretSet, 'notify-webhook-secret');
    const wCa = input('text', w.caFile, 'notify-webhook-ca');

    const m = s.mqtt;
    const mOn = check(t('notify.mqtt.enabled'), m.enabled, 'notify-mqtt-enabled');
    const mUrl = input('text', m.url, 'notify-mqtt-url', { placeholder: 'mqtt://homeassistant.local:1883' });
    const mUser = input('text', m.username, 'notify-mqtt-user', { autocomplete: 'off' });
    const mPass = secret(m.passwordSet, 'notify-mqtt-password');
    const mTopic = input('text', m.topicPrefix, 'notify-mqtt-topic');
    const mDisc = input('text', m.discoveryPrefix, 'notify-mqtt-discovery');
    const mCa = input('text', m.caFile, 'notify-mqtt-ca');

    const num = (el, d) => (el.value === '' ? d : Number(el.value));
    // Secrets are sent only when typed: the server keeps the stored one otherwise.
    const typed = (el, key) => (el.value ? { [key]: el.value } : {});
    const value = () => ({
      boxName: boxName.value.trim(), repeatHours: num(repeat, s.repeatHours), backoffSeconds: s.backoffSeconds, startupGraceSeconds: s.startupGraceSeconds,
      vaultLockedHours: num(vaultHours, s.vaultLockedHours), requestWarnDays: num(warnDays, s.requestWarnDays), queueMax: s.queueMax,
      email: {
        enabled: eOn.box.checked, host: eHost.value.trim(), port: num(ePort, 587), security: eSec.value, user: eUser.value.trim(), ...typed(ePass, 'password'),
        from: eFrom.value.trim(), to: eTo.value.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean), caFile: eCa.value.trim(),
      },
      webhook: { enabled: wOn.box.checked, url: wUrl.value.trim(), ...typed(wSecret, 'secret'), caFile: wCa.value.trim() },
      mqtt: {
        enabled: mOn.box.checked, url: mUrl.value.trim(), username: mUser.value.trim(), ...typed(mPass, 'password'),
        topicPrefix: mTopic.value.trim() || 'ringvault', discoveryPrefix: mDisc.value.trim() || 'homeassistant', caFile: mCa.value.trim(),
      },
    });

    const hd = data.webhookHeaders;
    const err = errorBox('notify-error');
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-large', testid: 'notify-save' }, t('notify.save'));
    const form = h(
      'form',
      {
        class: 'form', novalidate: true,
        onsubmit: async (ev) => {
          ev.preventDefault();
          showError(err, '');
          await busy(submit, async () => {
            try {
              await put('/api/notifications', value());
              for (const el of [ePass, wSecret, mPass]) { el.value = ''; el.placeholder = t('notify.secretSet'); }
              toast(t('notify.saved'), 'ok');
            } catch (e2) {
              showError(err, e2 instanceof ApiError ? e2.message : String(e2));
            }
          });
        },
      },
      h('h2', null, t('notify.email')),
      h('fieldset', { class: 'card fieldset', testid: 'notify-email' }, h('legend', null, t('notify.email')), eOn.el,
        h('div', { class: 'form-grid' }, field(t('notify.email.host'), eHost), field(t('notify.email.port'), ePort), field(t('notify.email.security'), eSec),
          field(t('notify.email.user'), eUser), field(t('notify.email.password'), ePass), field(t('notify.email.from'), eFrom),
          field(t('notify.email.to'), eTo, t('notify.email.toHint')), field(t('notify.caFile'), eCa, t('notify.caHint'))),
        channelStatus(data.status && data.status.email), testButton('email', value)),
      h('h2', null, t('notify.webhook')),
      h('fieldset', { class: 'card fieldset', testid: 'notify-webhook' }, h('legend', null, t('notify.webhook')), wOn.el,
        h('div', { class: 'form-grid' }, field(t('notify.webhook.url'), wUrl), field(t('notify.webhook.secret'), wSecret, t('notify.webhook.secretHint')), field(t('notify.caFile'), wCa, t('notify.caHint'))),
        h('p', { class: 'hint' }, t('notify.webhook.how', { signature: hd.signature, timestamp: hd.timestamp })),
        channelStatus(data.status && data.status.webhook), testButton('webhook', value)),
      h('h2', null, t('notify.mqtt')),
      h('fieldset', { class: 'card fieldset', testid: 'notify-mqtt' }, h('legend', null, t('notify.mqtt')), mOn.el,
        h('div', { class: 'form-grid' }, field(t('notify.mqtt.url'), mUrl), field(t('notify.mqtt.user'), mUser), field(t('notify.mqtt.password'), mPass),
          field(t('notify.mqtt.topic'), mTopic), field(t('notify.mqtt.discovery'), mDisc, t('notify.mqtt.discoveryHint')), field(t('notify.caFile'), mCa, t('notify.caHint'))),
        testButton('mqtt', value)),
      h('h2', null, t('notify.when')),
      h('div', { class: 'card' }, h('div', { class: 'form-grid' },
        field(t('notify.boxName'), boxName, t('notify.boxNameHint')), field(t('notify.vaultHours'), vaultHours), field(t('notify.warnDays'), warnDays), field(t('notify.repeat'), repeat, t('notify.repeatHint')))),
      err,
      h('div', { class: 'actions' }, submit),
    );
    body.replaceChildren(form);
  })();

  return { el: page, title: t('notify.title') };
}
