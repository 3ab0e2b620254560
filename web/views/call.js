// One kept call: metadata, integrity badge, player, download, delete.
import { t, fmtDateTime, fmtDuration, fmtNumber, fmtClock } from '../i18n.js';
import { h, confirmDialog, busy, toast } from '../dom.js';
import { get, del, post, ApiError } from '../api.js';
import { holdBox } from './hold-box.js';
import { ctx } from '../ctx.js';
import { purposesText, keptByText, directionText } from './format.js';

const AUDIO_ROLES = ['admin', 'manager', 'reviewer'];
const DELETE_ROLES = ['admin', 'manager'];

/** Keyed digits: the values only from a line set to keep them, else how many and when (m:ss into the call). */
function keyedText(call) {
  const at = call.keyed.atMs.map((ms) => fmtClock(ms)).join(', ');
  return call.digits
    ? t('call.keyedKept', { digits: call.digits, at })
    : t('call.keyedMasked', { n: fmtNumber(call.keyed.count), at });
}

export default function callView({ id }) {
  const heading = h('h1', { tabindex: '-1' }, t('nav.calls'));
  const body = h('div', { class: 'call-body' }, h('p', { class: 'muted' }, t('app.loading')));
  const page = h('section', { class: 'page' }, h('p', { class: 'back' }, h('a', { href: '#/calls', testid: 'back-to-calls' }, `← ${t('call.back')}`)), heading, body);
  let alive = true;

  (async () => {
    if (!ctx.lines.length) await ctx.loadLines().catch(() => {});
    let call;
    try {
      ({ call } = await get(`/api/calls/${encodeURIComponent(id)}`));
    } catch (e) {
      if (!alive) return;
      body.replaceChildren(h('p', { class: 'form-error', role: 'alert', testid: 'call-error' }, e instanceof ApiError ? e.message : String(e)));
      return;
    }
    if (!alive) return;
    const lineName = ctx.lineName(call.line);
    // Staff see only what My calls shows (the API sends no more); their page has no empty number rows.
    const staff = !ctx.can(AUDIO_ROLES);
    heading.textContent = t('call.title', { line: lineName });
    document.title = `${heading.textContent} · ${t('app.name')}`;

    const verified = h(
      'p',
      { class: ['badge-row'] },
      h('span', { class: ['badge', call.verified ? 'badge-ok' : 'badge-bad'], testid: 'verified-badge', dataset: { verified: String(Boolean(call.verified)) } }, call.verified ? t('call.verified') : t('call.notVerified')),
      h('span', { class: 'muted' }, call.verified ? t('call.verifiedHint') : t('call.notVerifiedHint')),
    );

    const row = (labelKey, value, testid) => h('div', null, h('dt', null, t(labelKey)), h('dd', { testid }, value ?? t('common.none')));
    const meta = h(
      'dl',
      { class: 'meta card' },
      row('call.started', fmtDateTime(call.startedAt), 'call-started'),
      staff ? null : row('call.ended', fmtDateTime(call.endedAt)),
      row('call.duration', fmtDuration(call.durationMs), 'call-duration'),
      row('call.direction', directionText(call.direction)),
      staff ? null : row('call.caller', call.caller ? h('span', { class: 'mono' }, call.caller) : null),
      staff ? null : row('call.called', call.called ? h('span', { class: 'mono' }, call.called) : null),
      call.extension ? row('call.extension', call.extension) : null,
      call.keyed ? row('call.keyed', keyedText(call), 'call-keyed') : null,
      staff ? null : row('call.channels', fmtNumber(call.channels)),
      staff || !call.sampleRate ? null : row('call.sampleRate', t('call.kHz', { khz: fmtNumber(call.sampleRate / 1000) }), 'call-rate'),
      call.undecodable && call.undecodable.length ? row('call.codecs', h('span', { class: 'badge badge-warn badge-wrap', title: t('call.notDecodableHint') }, ...call.undecodable.map((c) => t('call.notDecodable', { codec: c }))), 'call-undecodable') : null,
      row('call.purposes', purposesText(call.purposes)),
      row('call.keptBy', keptByText(call.keptBy)),
      staff ? null : row('call.clock', call.clockSynced === false
        ? h('span', { class: 'badge badge-warn', title: t('calls.unsyncedHint'), testid: 'call-unsynced' }, t('call.clockUnsynced'))
        : t('call.clockSynced')),
      call.missing && call.missing.length ? row('call.missing', h('ul', { class: 'missing-list', testid: 'call-missing' }, ...call.missing.map((m) => h('li', { dataset: { reason: m.reason } },
        m.to === null
          ? t(`call.missing.${m.reason}`, { from: fmtDateTime(m.from) })
          : t(`call.missing.${m.reason}`, { from: fmtDateTime(m.from), seconds: fmtNumber(Math.max(1, Math.round((m.to - m.from) / 1000))) }))))) : null,
      call.restricted ? row('call.restricted', t('common.yes')) : null,
      staff && call.held ? row('call.holdTitle', t('common.yes'), 'call-held') : null,
      call.holds && call.holds.length ? row('call.holdTitle', h('span', { class: 'badge badge-warn badge-wrap' }, t('call.held', { ids: call.holds.join(', ') })), 'call-held') : null,
    );
    meta.dataset.durationMs = String(call.durationMs);

    const src = `/api/calls/${encodeURIComponent(call.id)}/audio.wav`;
    let listen;
    if (!ctx.can(AUDIO_ROLES)) {
      listen = h('p', { class: 'hint-box' }, t('call.noAudioRole'));
    } else if (ctx.state.vault !== 'unlocked') {
      listen = h('p', { class: 'hint-box', testid: 'audio-locked' }, t('call.lockedAudio'), ' ', h('a', { href: '#/unlock' }, t('banner.unlock')));
    } else {
      listen = h(
        'div',
        { class: 'player card' },
        h('h2', { id: 'listen-h' }, t('call.listen')),
        h('audio', { controls: true, preload: 'none', src, testid: 'player', 'aria-labelledby': 'listen-h', class: 'audio' }),
        h('p', null, h('a', { href: `${src}?download=1`, download: `${call.id}.wav`, class: 'btn', testid: 'download' }, t('call.download'))),
      );
    }

    let danger = null;
    if (ctx.can(DELETE_ROLES)) {
      const delBtn = h('button', { type: 'button', class: 'btn btn-danger', testid: 'delete-call' }, t('call.delete'));
      delBtn.addEventListener('click', async () => {
        if (!(await confirmDialog(t('call.deleteConfirm'), t('call.delete')))) return;
        try {
          await busy(delBtn, () => del(`/api/calls/${encodeURIComponent(call.id)}`));
          toast(t('call.deleted'), 'ok');
          ctx.navigate('#/calls');
        } catch (e) {
          toast(e instanceof ApiError ? e.message : String(e), 'error');
        }
      });
      danger = h('div', { class: 'danger-zone' }, delBtn);
    }
    const hold = ctx.can(DELETE_ROLES) ? holdBox(call, post, () => ctx.rerender()) : null;
    // Recorded before the clock was set: say under the times why they may be wrong.
    const clockHelp = call.clockSynced === false ? h('p', { class: 'warning-box', testid: 'call-unsynced-help' }, t('call.clockUnsyncedHelp')) : null;
    body.replaceChildren(...[staff ? null : verified, meta, clockHelp, listen, hold, danger].filter(Boolean));
  })();

  return {
    el: page,
    title: t('nav.calls'),
    destroy() {
      alive = false;
      const a = page.querySelector('audio');
      if (a) a.pause();
    },
  };
}
