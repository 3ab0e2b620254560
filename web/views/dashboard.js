// Live line cards: state LED, duration, save / private buttons, simulation controls.
import { t, fmtClock, fmtNumber } from '../i18n.js';
import { h, clear, toast, confirmDialog, busy, nextId } from '../dom.js';
import { post, serverNow, ApiError } from '../api.js';
import { ctx } from '../ctx.js';
import { overdueNotice } from './requests.js';
import { currentHealth, onHealth } from '../live.js';

const SIM_ROLES = ['admin', 'manager', 'staff'];
const KEPT_NOTICE_MS = 60_000;

/** What the card shows: the API state, with a live call that is being kept shown as "keeping". */
function displayState(line) {
  if (line.state === 'fault') return 'fault';
  if (line.state === 'keeping' || (line.call && line.call.keeping)) return 'keeping';
  if (line.state === 'in-call' || line.call) return 'in-call';
  return 'idle';
}

/**
 * The live calls of a trunk line (siprec/pcap, several calls at once), one row each with its own
 * save and private buttons. Rows are kept by ref so a press in progress is not redrawn away.
 */
function makeTrunkList(lineRef) {
  const list = h('ul', { class: 'trunk-calls', testid: `calls-${lineRef().id}` });
  const count = h('p', { class: 'trunk-count muted', testid: `calls-count-${lineRef().id}` });
  const rows = new Map();
  const act = async (btn, kind, ref) => {
    const line = lineRef();
    if (kind === 'private' && !(await confirmDialog(t('dash.privateConfirm', { line: line.name }), t('dash.private')))) return;
    try {
      const res = await busy(btn, () => post(`/api/lines/${encodeURIComponent(line.id)}/${kind}`, { ref }));
      if (kind === 'save') {
        ctx.keptRefs.add(ref);
        if (!ctx.announcedKept.has(res.callId)) {
          ctx.announcedKept.add(res.callId);
          toast(t('dash.saved', { line: line.name }), 'ok', ctx.can(['admin', 'manager', 'reviewer']) ? h('a', { href: `#/calls/${encodeURIComponent(res.callId)}`, class: 'toast-link' }, t('dash.openCall')) : null);
        }
      } else {
        ctx.privateRefs.add(ref);
        toast(t('dash.privateDone', { line: line.name }), 'ok');
      }
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), 'error');
    }
  };
  function row(call) {
    const dir = h('span', { class: 'trunk-dir' });
    const ext = h('span', { class: 'trunk-ext muted' });
    const dur = h('span', { class: 'duration' });
    const state = h('span', { class: 'trunk-state' });
    const save = h('button', { type: 'button', class: 'btn btn-small btn-primary', testid: 'call-save' }, t('dash.save'));
    const priv = h('button', { type: 'button', class: 'btn btn-small btn-quiet', testid: 'call-private' }, t('dash.private'));
    const el = h('li', { class: 'trunk-call', testid: 'trunk-call', dataset: { ref: call.ref } }, dir, ext, dur, state, h('span', { class: 'trunk-actions' }, save, priv));
    save.addEventListener('click', () => act(save, 'save', call.ref));
    priv.addEventListener('click', () => act(priv, 'private', call.ref));
    return { el, dir, ext, dur, state, save, priv };
  }
  function update(line, now) {
    const calls = line.calls || [];
    count.textContent = t('dash.trunkCalls', { n: fmtNumber(calls.length), max: fmtNumber(line.maxCalls) });
    const live = new Set(calls.map((c) => c.ref));
    for (const [ref, r] of rows) if (!live.has(ref)) { r.el.remove(); rows.delete(ref); }
    for (const c of calls) {
      let r = rows.get(c.ref);
      if (!r) { r = row(c); rows.set(c.ref, r); list.append(r.el); }
      const isPrivate = c.private || ctx.privateRefs.has(c.ref);
      r.el.dataset.state = isPrivate ? 'private' : c.keeping ? 'keeping' : 'in-call';
      r.dir.textContent = t(`dir.${c.direction}`);
      r.ext.textContent = c.extension ? t('dash.extension', { ext: c.extension }) : '';
      r.dur.textContent = fmtClock(now - c.startedAt);
      r.state.textContent = isPrivate ? t('dash.privateCall') : c.keeping ? t('dash.beingKept') : t('state.in-call');
      r.save.disabled = r.save.getAttribute('aria-busy') === 'true' || c.keeping || isPrivate || line.state === 'fault';
      r.priv.disabled = r.priv.getAttribute('aria-busy') === 'true' || isPrivate;
    }
    list.hidden = calls.length === 0;
  }
  return { el: h('div', { class: 'trunk' }, count, list), update };
}

function keepLabel(line) {
  return line.keep === 'sample' ? t('keep.sample', { n: fmtNumber(line.sampleN) }) : t(`keep.${line.keep}`);
}

function makeCard(initial) {
  const id = initial.id;
  let line = initial;

  const title = h('h2', { class: 'line-name' });
  const stateLabel = h('span', { class: 'state-label', testid: `state-${id}` });
  const pill = h('span', { class: 'state-pill', role: 'status' }, h('span', { class: 'led', 'aria-hidden': 'true' }), stateLabel);
  const fault = h('p', { class: 'line-fault', hidden: true });
  const dirValue = h('dd', { testid: `direction-${id}` });
  const durValue = h('dd', { class: 'duration', testid: `duration-${id}` });
  const keepValue = h('dd');
  const facts = h(
    'dl',
    { class: 'facts' },
    h('div', null, h('dt', null, t('dash.direction')), dirValue),
    h('div', null, h('dt', null, t('dash.duration')), durValue),
    h('div', null, h('dt', null, t('dash.keepMode')), keepValue),
  );
  const coverage = h('p', { class: 'coverage muted', testid: `coverage-${id}` });
  // A trunk line (several calls at once) lists each live call with its own buttons.
  const trunk = initial.maxCalls > 1 ? makeTrunkList(() => line) : null;
  // What the LED next to this line's save button shows (issue 5).
  const ledHint = h('p', { class: 'board-led muted', testid: `led-${id}`, hidden: true });

  // A kept call leaves no savable lastEnded behind; show for a minute that it was kept.
  let keptEndedAt = 0;
  const saveBtn = h('button', { type: 'button', class: 'btn btn-primary btn-save', testid: `save-${id}` });
  saveBtn.addEventListener('click', async () => {
    const ref = line.call ? line.call.ref : line.lastEnded ? line.lastEnded.ref : null;
    try {
      const res = await busy(saveBtn, () => post(`/api/lines/${encodeURIComponent(id)}/save`, {}));
      if (ref) ctx.keptRefs.add(ref);
      if (line.call) line = { ...line, state: 'keeping', call: { ...line.call, keeping: true } };
      else keptEndedAt = serverNow();
      if (!ctx.announcedKept.has(res.callId)) {
        ctx.announcedKept.add(res.callId);
        toast(t('dash.saved', { line: line.name }), 'ok', ctx.can(['admin', 'manager', 'reviewer']) ? h('a', { href: `#/calls/${encodeURIComponent(res.callId)}`, class: 'toast-link' }, t('dash.openCall')) : null);
      }
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), 'error');
    }
    update(line);
  });

  const privBtn = h('button', { type: 'button', class: 'btn btn-quiet btn-private', testid: `private-${id}` });
  privBtn.addEventListener('click', async () => {
    const ok = await confirmDialog(t('dash.privateConfirm', { line: line.name }), t('dash.private'));
    if (!ok) return;
    const ref = line.call ? line.call.ref : line.lastEnded ? line.lastEnded.ref : null;
    try {
      await busy(privBtn, () => post(`/api/lines/${encodeURIComponent(id)}/private`, {}));
      if (ref) ctx.privateRefs.add(ref);
      toast(t('dash.privateDone', { line: line.name }), 'ok');
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), 'error');
    }
    update(line);
  });

  let sim = null;
  const simBtns = {};
  if (ctx.state.sim && ctx.can(SIM_ROLES)) {
    const numId = nextId('sim-num');
    const durId = nextId('sim-dur');
    const number = h('input', { id: numId, type: 'tel', inputmode: 'tel', autocomplete: 'off', testid: `sim-number-${id}`, placeholder: '0201234567' });
    const duration = h('input', { id: durId, type: 'number', min: '1', max: '3600', step: '1', inputmode: 'numeric', testid: `sim-duration-${id}` });
    const place = async (direction, btn) => {
      const body = { direction };
      const n = number.value.trim();
      if (n) body[direction === 'in' ? 'caller' : 'called'] = n;
      const d = Number(duration.value);
      if (duration.value !== '' && Number.isFinite(d) && d > 0) body.durationSec = d;
      try {
        await busy(btn, () => post(`/api/sim/lines/${encodeURIComponent(id)}/call`, body));
      } catch (e) {
        toast(e instanceof ApiError ? e.message : String(e), 'error');
      }
      update(line);
    };
    simBtns.in = h('button', { type: 'button', class: 'btn btn-small', testid: `sim-in-${id}` }, t('sim.incoming'));
    simBtns.out = h('button', { type: 'button', class: 'btn btn-small', testid: `sim-out-${id}` }, t('sim.outgoing'));
    simBtns.hangup = h('button', { type: 'button', class: 'btn btn-small', testid: `sim-hangup-${id}` }, t('sim.hangup'));
    simBtns.in.addEventListener('click', () => place('in', simBtns.in));
    if (ctx.state.simBoard) {
      // The simulated button box: a short press keeps, a long press makes private.
      const pressBoard = async (kind, btn) => {
        try {
          await busy(btn, () => post('/api/sim/board/press', { line: id, kind }));
        } catch (e) {
          toast(e instanceof ApiError ? e.message : String(e), 'error');
        }
      };
      simBtns.boardShort = h('button', { type: 'button', class: 'btn btn-small', testid: `sim-board-short-${id}` }, t('sim.boardShort'));
      simBtns.boardLong = h('button', { type: 'button', class: 'btn btn-small', testid: `sim-board-long-${id}` }, t('sim.boardLong'));
      simBtns.boardShort.addEventListener('click', () => pressBoard('short', simBtns.boardShort));
      simBtns.boardLong.addEventListener('click', () => pressBoard('long', simBtns.boardLong));
    }
    simBtns.out.addEventListener('click', () => place('out', simBtns.out));
    simBtns.hangup.addEventListener('click', async () => {
      try {
        await busy(simBtns.hangup, () => post(`/api/sim/lines/${encodeURIComponent(id)}/hangup`, {}));
      } catch (e) {
        toast(e instanceof ApiError ? e.message : String(e), 'error');
      }
      update(line);
    });
    sim = h(
      'details',
      { class: 'sim', testid: `sim-${id}`, open: true },
      h('summary', null, t('sim.title')),
      h(
        'div',
        { class: 'sim-fields' },
        h('div', { class: 'field' }, h('label', { for: numId }, t('sim.number')), number),
        h('div', { class: 'field' }, h('label', { for: durId }, t('sim.duration')), duration),
      ),
      h('div', { class: 'sim-actions' }, simBtns.in, simBtns.out, simBtns.hangup),
      simBtns.boardShort ? h('div', { class: 'sim-actions' }, simBtns.boardShort, simBtns.boardLong) : null,
    );
  }

  const el = h(
    'article',
    { class: 'card line-card', testid: `line-${id}`, 'aria-labelledby': `line-title-${id}` },
    h('div', { class: 'line-head' }, title, pill),
    fault,
    facts,
    trunk ? trunk.el : null,
    h('div', { class: 'line-actions' }, saveBtn, privBtn),
    coverage,
    ledHint,
    sim,
  );
  title.id = `line-title-${id}`;

  function update(next) {
    const now = serverNow();
    if (line.call && line.call.keeping && !next.call) keptEndedAt = now;
    if (line.lastEnded && ctx.keptRefs.has(line.lastEnded.ref) && !next.lastEnded && !next.call) keptEndedAt = now;
    if (next.call) keptEndedAt = 0;
    line = next;
    const st = displayState(line);
    el.dataset.state = st;
    title.textContent = line.name;
    stateLabel.textContent = t(`state.${st}`);
    fault.hidden = st !== 'fault';
    fault.textContent = st === 'fault' ? t('dash.fault', { message: line.fault || '' }) : '';
    dirValue.textContent = line.call ? t(`dir.${line.call.direction}`) : t('common.none');
    durValue.textContent = line.call ? fmtClock(now - line.call.startedAt) : t('common.none');
    keepValue.textContent = keepLabel(line);
    coverage.textContent = t('dash.coverage', { minutes: fmtNumber(line.coverageMinutes ?? 0, { maximumFractionDigits: 1 }) });
    ledHint.hidden = !line.led;
    ledHint.textContent = line.led ? t('led.label', { state: t(`led.${line.led}`) }) : '';
    if (line.led) el.dataset.led = line.led;

    const ended = line.lastEnded && line.lastEnded.savableUntil > now ? line.lastEnded : null;
    const endedKept = (ended && ctx.keptRefs.has(ended.ref)) || (!ended && keptEndedAt > 0 && now - keptEndedAt < KEPT_NOTICE_MS);
    const busyNow = saveBtn.getAttribute('aria-busy') === 'true';
    const isPrivate = Boolean(line.call && ctx.privateRefs.has(line.call.ref));
    saveBtn.classList.toggle('is-kept', Boolean((line.call && line.call.keeping) || (!line.call && endedKept)));
    if (line.call && line.call.keeping) {
      saveBtn.textContent = t('dash.beingKept');
      saveBtn.disabled = true;
    } else if (isPrivate) {
      saveBtn.textContent = t('dash.privateCall');
      saveBtn.disabled = true;
    } else if (line.call) {
      saveBtn.textContent = t('dash.save');
      saveBtn.disabled = busyNow || st === 'fault';
    } else if (ended && !endedKept) {
      saveBtn.textContent = t('dash.saveEnded', { time: fmtClock(ended.savableUntil - now) });
      saveBtn.disabled = busyNow;
    } else if (endedKept) {
      saveBtn.textContent = t('dash.lastKept');
      saveBtn.disabled = true;
    } else {
      saveBtn.textContent = t('dash.save');
      saveBtn.disabled = true;
    }
    privBtn.textContent = t('dash.private');
    privBtn.disabled = privBtn.getAttribute('aria-busy') === 'true' || isPrivate || !(line.call || (ended && !endedKept));
    if (trunk) {
      trunk.update(line, now);
      // On a trunk the card's save keeps every live call; private is per call (the rows), unless only one is live.
      const n = (line.calls || []).length;
      if (n > 1 && !(line.calls || []).every((c) => c.keeping)) saveBtn.textContent = t('dash.saveAll', { n: fmtNumber(n) });
      if (n > 1 && line.calls.every((c) => c.keeping || c.private)) { saveBtn.textContent = t('dash.beingKept'); saveBtn.disabled = true; }
      privBtn.hidden = n > 1;
    }
    if (simBtns.hangup) {
      simBtns.hangup.disabled = simBtns.hangup.getAttribute('aria-busy') === 'true' || !line.call;
      simBtns.in.disabled = simBtns.in.getAttribute('aria-busy') === 'true' || Boolean(line.call);
      simBtns.out.disabled = simBtns.out.getAttribute('aria-busy') === 'true' || Boolean(line.call);
    }
  }
  update(line);
  return { el, update, tick: () => update(line) };
}

export default function dashboardView() {
  const grid = h('div', { class: 'line-grid', testid: 'lines' });
  const status = h('p', { class: 'muted' }, t('app.loading'));
  // Box health (issue 5): what stops the box from recording or keeping, and the sim board's plug.
  const healthList = h('ul', { class: 'health-issues' });
  const health = h('div', { class: 'card health-panel', role: 'status', testid: 'health', hidden: true }, h('h2', null, t('health.title')), healthList);
  let plugBtn = null;
  if (ctx.state && ctx.state.simBoard && ctx.can(['admin', 'manager'])) {
    plugBtn = h('button', { type: 'button', class: 'btn btn-small', testid: 'sim-board-plug' }, t('sim.boardUnplug'));
    plugBtn.addEventListener('click', async () => {
      const plugged = plugBtn.dataset.plugged === 'false';
      try {
        await busy(plugBtn, () => post('/api/sim/board/plug', { plugged }));
      } catch (e) {
        toast(e instanceof ApiError ? e.message : String(e), 'error');
      }
      // The board's new state arrives as a health event.
    });
  }
  function showHealth(report) {
    if (!report) return;
    clear(healthList);
    // The clock has its own banner on every page, saying what to do; listing it here as well said it twice.
    const issues = (report.issues || []).filter((i) => i.code !== 'RV_ERR_CLOCK_UNSYNCED');
    for (const i of issues) {
      const key = `health.${i.code}`;
      const text = t(key, { line: i.line ? ctx.lineName(i.line) : '', hours: fmtNumber(report.disk ? report.disk.hoursLeft ?? 0 : 0) });
      healthList.append(h('li', { 'data-code': i.code, title: i.message }, text === key ? i.message : text));
    }
    health.hidden = issues.length === 0;
    if (plugBtn) {
      const plugged = !(report.board && report.board.connected === false);
      plugBtn.dataset.plugged = String(plugged);
      plugBtn.textContent = t(plugged ? 'sim.boardUnplug' : 'sim.boardPlug');
    }
  }
  const page = h(
    'section',
    { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', { tabindex: '-1' }, t('dash.title')), h('span', { class: 'live-indicator', testid: 'live' }, h('span', { class: 'live-dot', 'aria-hidden': 'true' }), t('dash.live'))),
    plugBtn ? h('div', { class: 'sim-actions' }, plugBtn) : null,
    health,
    overdueNotice(),
    status,
    grid,
  );
  const cards = new Map();

  function render(lines) {
    status.hidden = lines.length > 0;
    if (!lines.length) status.textContent = t('dash.empty');
    const ids = lines.map((l) => l.id);
    const same = ids.length === cards.size && ids.every((x) => cards.has(x));
    if (!same) {
      clear(grid);
      cards.clear();
      for (const l of lines) {
        const c = makeCard(l);
        cards.set(l.id, c);
        grid.append(c.el);
      }
      return;
    }
    for (const l of lines) cards.get(l.id).update(l);
  }

  if (ctx.lines.length) render(ctx.lines);
  ctx.loadLines().catch((e) => {
    status.hidden = false;
    status.textContent = t('common.error', { message: e.message });
  });
  const off = ctx.onLines(render);
  // Health comes with the event stream (at connect and on every change); until its first event, the login's state.
  showHealth(currentHealth() || (ctx.state && ctx.state.health));
  const offHealth = onHealth(showHealth);
  const timer = setInterval(() => {
    for (const c of cards.values()) c.tick();
  }, 1000);
  return {
    el: page,
    title: t('dash.title'),
    destroy() {
      off();
      offHealth();
      clearInterval(timer);
    },
  };
}
