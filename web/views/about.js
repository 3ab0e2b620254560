// About this box: version, and the box id and signing-key fingerprint a recipient of an export compares.
import { t } from '../i18n.js';
import { h } from '../dom.js';
import { get } from '../api.js';

export default function aboutView() {
  const list = h('dl', { class: 'about-list' });
  const page = h('section', { class: 'page page-narrow' }, h('h1', { tabindex: '-1' }, t('about.title')), h('p', { class: 'lead' }, t('about.intro')), list);
  void get('/api/about').then((a) => {
    const row = (label, value, testid) => [h('dt', null, label), h('dd', { testid, class: 'mono' }, value)];
    list.append(
      ...row(t('about.version'), a.version, 'about-version'),
      ...row(t('about.boxId'), a.boxId ?? t('about.notSetUp'), 'about-box-id'),
      ...row(t('about.fingerprint'), a.keyFingerprint ?? t('about.notSetUp'), 'about-fingerprint'),
    );
  });
  return { el: page, title: t('about.title') };
}
