// Shared state of the running page: the box's /api/state, the live line list and who may do what.
const lineListeners = new Set();

export const ctx = {
  /** last answer of GET /api/state */
  state: null,
  /** latest Line[] from /api/lines or the event stream */
  lines: [],
  /** true while the event stream is down after having worked */
  liveLost: false,
  /** refs of calls this page has seen being kept (to tell a kept just-ended call apart) */
  keptRefs: new Set(),
  /** refs of calls made private from this page (the line status has no flag for it) */
  privateRefs: new Set(),
  /** call ids a "kept" toast was shown for (the save answer and the event both report it) */
  announcedKept: new Set(),
  /** the recovery key shown once after setup; cleared when the user confirms storing it */
  pendingRecoveryKey: null,
  refreshState: async () => null,
  navigate: (_hash) => {},
  rerender: () => {},
  renderBanners: () => {},
  loadLines: async () => [],

  role() {
    return this.state && this.state.user ? this.state.user.role : null;
  },
  can(roles) {
    const r = this.role();
    return r !== null && roles.includes(r);
  },
  lineName(id) {
    const l = this.lines.find((x) => x.id === id);
    return l ? l.name : id;
  },
  setLines(lines) {
    if (!Array.isArray(lines)) return;
    this.lines = lines;
    for (const l of lines) if (l.call && l.call.keeping) this.keptRefs.add(l.call.ref);
    for (const fn of lineListeners) fn(lines);
  },
  onLines(fn) {
    lineListeners.add(fn);
    return () => lineListeners.delete(fn);
  },
};
