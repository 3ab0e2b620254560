import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/appliance.ts';
import { isRvError } from '../src/errors.ts';
import { numberFromUri, parseNameAddr, parseSip, serializeSip, SipStreamFramer, cseqOf } from '../src/sip/message.ts';
import { splitMultipart, parseContentType } from '../src/sip/multipart.ts';
import { answerDirection, buildAnswerSdp, chooseAudioPayloads, parseSdpStreams } from '../src/sip/sdp.ts';
import { mergeSiprecMetadata, parseSiprecMetadata, participantNumber, siprecRoles } from '../src/sip/siprec-meta.ts';

const FIX = join(ROOT, 'test/fixtures/siprec');
const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'));
const BASE = 'Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@y>\nCall-ID: c1\nCSeq: 1 OPTIONS\n';

const malformedCode = (fn: () => unknown): string => {
  try { fn(); } catch (e) { assert.ok(isRvError(e), `not an RvError: ${e}`); return e.code; }
  return 'no error';
};

test('parseSip: liberal in form', () => {
  const cases: Array<{ name: string; raw: Buffer; check: (m: ReturnType<typeof parseSip>) => void }> = [
    { name: 'CRLF request', raw: crlf(`OPTIONS sip:srs@h SIP/2.0\n${BASE}Content-Length: 0\n\n`), check: (m) => { assert.equal(m.method, 'OPTIONS'); assert.equal(m.uri, 'sip:srs@h'); } },
    { name: 'LF only, lower-case method and names', raw: Buffer.from(`options sip:srs@h SIP/2.0\nvia: SIP/2.0/UDP a;branch=z9hG4bK2\nfrom: <sip:a@x>;tag=1\nto: <sip:b@y>\ncall-id: c2\ncseq: 7 OPTIONS\n\n`), check: (m) => { assert.equal(m.method, 'OPTIONS'); assert.equal(m.get('Call-ID'), 'c2'); assert.deepEqual(cseqOf(m), { seq: 7, method: 'OPTIONS' }); } },
    { name: 'compact forms', raw: crlf('INVITE sip:x SIP/2.0\nv: SIP/2.0/UDP a;branch=z9hG4bK3\nf: <sip:a@x>;tag=9\nt: <sip:b@y>\ni: cid\nCSeq: 1 INVITE\nm: <sip:a@10.0.0.1>\nc: application/sdp\nk: timer\nl: 3\n\nv=0'), check: (m) => {
      assert.equal(m.get('From'), '<sip:a@x>;tag=9'); assert.equal(m.get('contact'), '<sip:a@10.0.0.1>'); assert.equal(m.get('Content-Type'), 'application/sdp');
      assert.equal(m.get('Supported'), 'timer'); assert.equal(m.body.toString(), 'v=0'); assert.equal(m.headers[0]![0], 'Via');
    } },
    { name: 'folded header', raw: crlf(`OPTIONS sip:x SIP/2.0\n${BASE}Subject: first\n  second\n\tthird\n\n`), check: (m) => assert.equal(m.get('subject'), 'first second third') },
    { name: 'repeated headers kept in order', raw: crlf(`OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP p1;branch=z9hG4bKa\n${BASE}\n`), check: (m) => assert.deepEqual(m.getAll('v').map((v) => v.split(' ')[1]), ['p1;branch=z9hG4bKa', '10.0.0.1:5060;branch=z9hG4bK1']) },
    { name: 'leading CRLFs ignored', raw: crlf(`\n\nOPTIONS sip:x SIP/2.0\n${BASE}\n`), check: (m) => assert.equal(m.method, 'OPTIONS') },
    { name: 'body cut at Content-Length', raw: crlf(`MESSAGE sip:x SIP/2.0\n${BASE.replace('OPTIONS', 'MESSAGE')}Content-Length: 2\n\nhello`), check: (m) => assert.equal(m.body.toString(), 'he') },
    { name: 'response', raw: crlf(`SIP/2.0 486 Busy Here\n${BASE}\n`), check: (m) => { assert.equal(m.kind, 'response'); assert.equal(m.status, 486); assert.equal(m.reason, 'Busy Here'); } },
    { name: 'response without reason', raw: crlf(`SIP/2.0 200\n${BASE}\n`), check: (m) => { assert.equal(m.status, 200); assert.equal(m.reason, ''); } },
  ];
  for (const c of cases) {
    const m = parseSip(c.raw);
    c.check(m);
  }
});

test('parseSip: strict in size and shape, always with RV_ERR_SIP_MALFORMED', () => {
  const many = Array.from({ length: 300 }, (_, i) => `X-H${i}: v`).join('\n');
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['only CRLF', Buffer.from('\r\n\r\n')],
    ['garbage start line', crlf(`HELLO WORLD\n${BASE}\n`)],
    ['wrong version', crlf(`OPTIONS sip:x SIP/3.0\n${BASE}\n`)],
    ['status out of range', crlf(`SIP/2.0 999 Odd\n${BASE}\n`)],
    ['header without colon', crlf(`OPTIONS sip:x SIP/2.0\n${BASE}NoColonHere\n\n`)],
    ['continuation first', crlf(`OPTIONS sip:x SIP/2.0\n folded\n${BASE}\n`)],
    ['bad header name', crlf(`OPTIONS sip:x SIP/2.0\n${BASE}Bad Name: v\n\n`)],
    ['too many headers', crlf(`OPTIONS sip:x SIP/2.0\n${BASE}${many}\n\n`)],
    ['too large', Buffer.concat([crlf(`OPTIONS sip:x SIP/2.0\n${BASE}\n`), Buffer.alloc(70_000, 0x41)])],
    ['Content-Length longer than body', crlf(`OPTIONS sip:x SIP/2.0\n${BASE}Content-Length: 50\n\nshort`)],
    ['Content-Length not a number', crlf(`OPTIONS sip:x SIP/2.0\n${BASE}Content-Length: -3\n\n`)],
    ['no Call-ID', crlf('OPTIONS sip:x SIP/2.0\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@y>\nCSeq: 1 OPTIONS\n\n')],
    ['no Via', crlf('OPTIONS sip:x SIP/2.0\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@y>\nCall-ID: c\nCSeq: 1 OPTIONS\n\n')],
    ['CSeq without method', crlf(`OPTIONS sip:x SIP/2.0\n${BASE.replace('CSeq: 1 OPTIONS', 'CSeq: 1')}\n`)],
    ['CSeq too big', crlf(`OPTIONS sip:x SIP/2.0\n${BASE.replace('CSeq: 1 OPTIONS', 'CSeq: 99999999999 OPTIONS')}\n`)],
  ];
  for (const [name, raw] of cases) assert.equal(malformedCode(() => parseSip(raw)), 'RV_ERR_SIP_MALFORMED', name);
  // The message says what was wrong.
  assert.throws(() => parseSip(crlf(`OPTIONS sip:x SIP/2.0\n${BASE}Content-Length: 50\n\nshort`)), /Content-Length says 50 bytes but only 5 arrived/);
});

test('serializeSip round-trips and writes the real Content-Length', () => {
  const buf = serializeSip({ kind: 'response', status: 200, reason: 'OK', headers: [['Via', 'SIP/2.0/UDP a;branch=z9hG4bK1'], ['From', '<sip:a@x>;tag=1'], ['To', '<sip:b@y>;tag=2'], ['Call-ID', 'c'], ['CSeq', '1 INVITE'], ['Content-Length', '999'], ['Subject', 'a\r\nInjected: yes']], body: 'v=0\r\n' });
  const m = parseSip(buf);
  assert.equal(m.status, 200);
  assert.equal(m.get('Content-Length'), '5');
  assert.equal(m.body.toString(), 'v=0\r\n');
  assert.equal(m.get('Injected'), undefined, 'a header value cannot inject a header');
});

test('SipStreamFramer: byte-by-byte, pipelined, keep-alives, and oversize', () => {
  const one = crlf(`INVITE sip:x SIP/2.0\n${BASE.replace('OPTIONS', 'INVITE')}Content-Length: 4\n\nabcd`);
  const two = crlf(`BYE sip:x SIP/2.0\n${BASE.replace('OPTIONS', 'BYE')}l: 0\n\n`);
  const stream = Buffer.concat([Buffer.from('\r\n\r\n'), one, Buffer.from('\r\n'), two]);
  const f = new SipStreamFramer();
  const got: Buffer[] = [];
  for (const b of stream) got.push(...f.push(Buffer.from([b])));
  assert.equal(got.length, 2);
  assert.equal(parseSip(got[0]!).body.toString(), 'abcd');
  assert.equal(parseSip(got[1]!).method, 'BYE');
  assert.equal(f.pending, 0);
  const all = new SipStreamFramer().push(stream);
  assert.deepEqual(all.map((b) => parseSip(b).method), ['INVITE', 'BYE']);
  const big = new SipStreamFramer({ maxBytes: 1000, maxHeaders: 50 });
  assert.equal(malformedCode(() => big.push(Buffer.alloc(1500, 0x41))), 'RV_ERR_SIP_MALFORMED');
  const longBody = new SipStreamFramer({ maxBytes: 1000, maxHeaders: 50 });
  assert.equal(malformedCode(() => longBody.push(crlf(`INVITE sip:x SIP/2.0\n${BASE}Content-Length: 5000\n\n`))), 'RV_ERR_SIP_MALFORMED');
  assert.equal(malformedCode(() => new SipStreamFramer().push(crlf(`INVITE sip:x SIP/2.0\n${BASE}Content-Length: x\n\n`))), 'RV_ERR_SIP_MALFORMED');
});

test('name-addr and numbers', () => {
  const cases: Array<[string, { display?: string; uri: string; user?: string; tag?: string; number?: string }]> = [
    ['"Jansen, P." <sip:+31201234567@pbx.example;user=phone>;tag=abc', { display: 'Jansen, P.', uri: 'sip:+31201234567@pbx.example;user=phone', user: '+31201234567', tag: 'abc', number: '+31201234567' }],
    ['Reception <sips:200@10.0.0.2:5061>', { display: 'Reception', uri: 'sips:200@10.0.0.2:5061', user: '200', number: '200' }],
    ['<tel:+31-20-123-4567>', { uri: 'tel:+31-20-123-4567', user: '+31-20-123-4567', number: '+31201234567' }],
    ['sip:0612345678@x;tag=77', { uri: 'sip:0612345678@x', user: '0612345678', tag: '77', number: '0612345678' }],
    ['<sip:anonymous@anonymous.invalid>;tag=1', { uri: 'sip:anonymous@anonymous.invalid', user: 'anonymous', tag: '1', number: 'withheld' }],
    ['<sip:alice:secret@example.com>', { uri: 'sip:alice:secret@example.com', user: 'alice', number: 'alice' }],
    ['<sip:%2B31101234567@x>', { uri: 'sip:%2B31101234567@x', user: '+31101234567', number: '+31101234567' }],
    ['<sip:pbx.example>', { uri: 'sip:pbx.example' }],
    // Issue 10 item 12: quoted display names are read first (RFC 3261 §25.1), so "<", ">", ";" and escapes in them do not hide the number.
    ['"Dr. <Jansen>" <sip:+31644444444@x>;tag=t1', { display: 'Dr. <Jansen>', uri: 'sip:+31644444444@x', user: '+31644444444', tag: 't1', number: '+31644444444' }],
    ['"<sip:+31000000000@evil>" <sip:+31644444444@x>', { display: '<sip:+31000000000@evil>', uri: 'sip:+31644444444@x', user: '+31644444444', number: '+31644444444' }],
    ['"a>b" <sip:0201234567@x>', { display: 'a>b', uri: 'sip:0201234567@x', user: '0201234567', number: '0201234567' }],
    ['"Jan \\"de Boer\\" <x>;tag=no" <sip:0612345678@x>;tag=yes', { display: 'Jan "de Boer" <x>;tag=no', uri: 'sip:0612345678@x', user: '0612345678', tag: 'yes', number: '0612345678' }],
    ['"back\\\\slash" <tel:+31201234567>', { display: 'back\\slash', uri: 'tel:+31201234567', user: '+31201234567', number: '+31201234567' }],
    ['""   <sip:200@pbx>', { uri: 'sip:200@pbx', user: '200', number: '200' }],
    ['\t"Tab"\t<sip:300@pbx>', { display: 'Tab', uri: 'sip:300@pbx', user: '300', number: '300' }],
  ];
  for (const [v, want] of cases) {
    const a = parseNameAddr(v);
    assert.equal(a.display, want.display, v);
    assert.equal(a.uri, want.uri, v);
    assert.equal(a.user, want.user, v);
    assert.equal(a.tag, want.tag, v);
    assert.equal(numberFromUri(a.uri), want.number, v);
  }
  assert.equal(numberFromUri('http://x'), undefined);
  assert.throws(() => parseNameAddr('"x" <sip:a@b'), /has "<" without ">"/);
  assert.throws(() => parseNameAddr('"Dr. <Jansen> <sip:+31644444444@x>'), /display name without its closing quote/);
  assert.throws(() => parseNameAddr('"Dr. Jansen" sip:+31644444444@x'), /quoted display name but no <URI>/);
  assert.throws(() => parseNameAddr('"x\\'), /without its closing quote/);
});

test('multipart: boundaries quoted or not, preamble, LF, nesting, no closing line', () => {
  const sdp = 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n';
  const cases: Array<[string, string, string, string[]]> = [
    ['bare boundary', 'multipart/mixed;boundary=b1', `--b1\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--b1\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<recording/>\r\n--b1--\r\n`, ['application/sdp', 'application/rs-metadata+xml']],
    ['quoted with spaces and =', 'multipart/mixed; boundary="a b=c"', `preamble text\r\n--a b=c\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--a b=c--`, ['application/sdp']],
    ['LF only, upper-case names', 'Multipart/Mixed;BOUNDARY=x', `--x\nCONTENT-TYPE: Application/SDP\n\n${sdp}\n--x\nc: application/rs-metadata\n\n<r/>\n--x--\n`, ['application/sdp', 'application/rs-metadata']],
    ['nested multipart', 'multipart/mixed;boundary=outer', `--outer\r\nContent-Type: multipart/alternative;boundary=inner\r\n\r\n--inner\r\nContent-Type: application/sdp\r\n\r\n${sdp}\r\n--inner--\r\n\r\n--outer\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<r/>\r\n--outer--`, ['application/sdp', 'application/rs-metadata+xml']],
    ['no closing delimiter', 'multipart/mixed;boundary=z', `--z\r\nContent-Type: application/sdp\r\n\r\n${sdp}`, ['application/sdp']],
    ['boundary text inside a body is not a delimiter', 'multipart/mixed;boundary=q', `--q\r\nContent-Type: text/plain\r\n\r\nsee --q here\r\n--q--`, ['text/plain']],
  ];
  for (const [name, ct, body, types] of cases) {
    const parts = splitMultipart(ct, Buffer.from(body));
    assert.deepEqual(parts.map((p) => p.type), types, name);
    const s = parts.find((p) => p.type === 'application/sdp');
    if (s) assert.equal(s.body.toString().replace(/\r/g, ''), sdp.replace(/\r/g, '').replace(/\n$/, '\n').trimEnd() + '\n', name);
  }
  assert.equal(splitMultipart('multipart/mixed;boundary=q', Buffer.from('--q\r\nContent-Type: text/plain\r\n\r\nsee --q here\r\n--q--'))[0]!.body.toString(), 'see --q here');
  assert.deepEqual(parseContentType('application/sdp; charset="utf-8"'), { type: 'application/sdp', params: { charset: 'utf-8' } });
  assert.throws(() => splitMultipart('multipart/mixed', Buffer.from('x')), (e) => isRvError(e) && /no boundary/.test(e.message));
  let deep = 'leaf';
  for (let i = 0; i < 6; i++) deep = `--b${i}\r\nContent-Type: multipart/mixed;boundary=b${i - 1}\r\n\r\n${deep}\r\n--b${i}--`;
  assert.throws(() => splitMultipart('multipart/mixed;boundary=b5', Buffer.from(deep)), /nests multiparts/);
});

test('SDP: streams, static payloads, directions, labels; answer', () => {
  const sdp = 'v=0\r\no=- 5 9 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\na=sendonly\r\n'
    + 'm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:in\r\n'
    + 'm=audio 4002 RTP/AVP 18\r\nc=IN IP4 10.1.1.2\r\na=rtpmap:18 G729/8000\r\na=inactive\r\na=label:out\r\n'
    + 'm=video 0 RTP/AVP 96\r\n';
  const s = parseSdpStreams(sdp);
  assert.equal(s.sessionAddr, '10.1.1.1');
  assert.deepEqual(s.origin, { sessionId: '5', version: 9 });
  assert.deepEqual(s.streams.map((x) => [x.label, x.addr, x.port, x.direction, x.payloads.map((p) => p.codec).join()]), [
    ['in', '10.1.1.1', 4000, 'sendonly', 'PCMU,PCMA,telephone-event'],
    ['out', '10.1.1.2', 4002, 'inactive', 'G729'],
    [undefined, '10.1.1.1', 0, 'sendonly', 'pt96'],
  ]);
  assert.deepEqual(chooseAudioPayloads(s.streams[0]!.payloads).map((p) => p.pt), [0, 8, 101]);
  // a codec the box cannot decode is still accepted (kept sealed, marked), after every one it can
  assert.deepEqual(chooseAudioPayloads(s.streams[1]!.payloads).map((p) => p.codec), ['G729']);
  assert.deepEqual(chooseAudioPayloads(s.streams[2]!.payloads.filter((p) => p.codec === 'telephone-event')), []);
  const multi = parseSdpStreams('v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n'
    + 'm=audio 4000 RTP/AVP 96 9 18 0 13 101\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 maxplaybackrate=16000;useinbandfec=1\r\n'
    + 'a=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=yes\r\na=rtpmap:13 CN/8000\r\na=rtpmap:101 telephone-event/48000\r\na=fmtp:101 0-15\r\n').streams[0]!.payloads;
  assert.deepEqual(multi.find((p) => p.pt === 96), { pt: 96, codec: 'opus', rate: 48000, channels: 2, fmtp: 'maxplaybackrate=16000;useinbandfec=1' });
  const wide = (p: { codec: string }): boolean => ['opus', 'G722', 'PCMU'].includes(p.codec);
  assert.deepEqual(chooseAudioPayloads(multi, wide).map((p) => p.pt), [96, 9, 0, 101, 18]);
  const echoed = parseSdpStreams(buildAnswerSdp({ addr: '192.0.2.9', sessionId: '1', version: 1, streams: [{ media: 'audio', port: 2000, payloads: chooseAudioPayloads(multi, wide), direction: 'recvonly' }] }));
  assert.deepEqual(echoed.streams[0]!.payloads.filter((p) => p.fmtp).map((p) => [p.pt, p.fmtp]), [[96, 'maxplaybackrate=16000;useinbandfec=1'], [101, '0-15'], [18, 'annexb=yes']]);
  assert.equal(echoed.streams[0]!.payloads[0]!.channels, 2);
  assert.equal(answerDirection('sendonly'), 'recvonly');
  assert.equal(answerDirection('sendrecv'), 'recvonly');
  assert.equal(answerDirection('inactive'), 'inactive');
  const ans = parseSdpStreams(buildAnswerSdp({ addr: '192.0.2.9', sessionId: '77', version: 3, streams: [
    { media: 'audio', port: 20000, payloads: chooseAudioPayloads(s.streams[0]!.payloads), direction: 'recvonly', label: 'in' },
    { media: 'audio', port: 0, payloads: [{ pt: 0, codec: 'PCMU', rate: 8000 }], direction: 'inactive', label: 'out' },
  ] }));
  assert.deepEqual(ans.streams.map((x) => [x.port, x.direction, x.label, x.payloads.map((p) => p.pt).join()]), [[20000, 'recvonly', 'in', '0,8,101'], [0, 'sendrecv', 'out', '0']]);
  assert.equal(ans.sessionAddr, '192.0.2.9');
  for (const bad of ['', 'hello', 'o=- 1 1 IN IP4 x\r\n']) assert.equal(malformedCode(() => parseSdpStreams(bad)), 'RV_ERR_SDP_MALFORMED', bad);
});

// Vendor-flavoured INVITEs written after RFC 7865/7866/8068 and the SBC vendors' public documentation.
const VENDORS: Array<{ file: string; transport: string; labels: Array<string | undefined>; codecs: string[]; caller: string; called: string; channels: Array<0 | 1>; parts: number }> = [
  { file: 'acme-oracle.sip', transport: 'UDP', labels: ['16777231', '16777232'], codecs: ['PCMA', 'PCMA'], caller: '+31201234567', called: '0612345678', channels: [0, 1], parts: 2 },
  { file: 'cisco-cube.sip', transport: 'TCP', labels: ['1', '2'], codecs: ['PCMU', 'PCMU'], caller: '0201234567', called: '+31301112233', channels: [0, 1], parts: 3 },
  { file: 'broadworks.sip', transport: 'TCP', labels: ['bw-in', 'bw-out'], codecs: ['PCMA', 'PCMA'], caller: '+31207654321', called: '+31201112222', channels: [0, 1], parts: 2 },
  { file: 'ribbon-sonus.sip', transport: 'UDP', labels: ['1', '2'], codecs: ['PCMA', 'PCMA'], caller: '0031104445566', called: '0031208889900', channels: [1, 0], parts: 2 },
  { file: 'avaya-sbce.sip', transport: 'TCP', labels: ['901', '902', '903'], codecs: ['PCMU', 'G729', 'PCMU'], caller: '+31624895902', called: '4021', channels: [0, 1, 1], parts: 2 },
  { file: 'audiocodes.sip', transport: 'UDP', labels: ['1', '2'], codecs: ['PCMA', 'PCMA'], caller: '+31853030000', called: '0107778899', channels: [0, 1], parts: 2 },
];

test('vendor SIPREC INVITEs: SDP streams, metadata, caller and callee per stream', () => {
  for (const v of VENDORS) {
    const raw = readFileSync(join(FIX, v.file));
    const m = parseSip(raw);
    assert.equal(m.method, 'INVITE', v.file);
    assert.match(m.get('Via')!, new RegExp(`^SIP/2.0/${v.transport} `), v.file);
    assert.equal(Number(m.get('Content-Length')), m.body.length, `${v.file}: fixture Content-Length`);
    const parts = splitMultipart(m.get('Content-Type')!, m.body);
    assert.equal(parts.length, v.parts, v.file);
    const sdp = parseSdpStreams(parts.find((p) => p.type === 'application/sdp')!.body);
    assert.deepEqual(sdp.streams.map((s) => s.label), v.labels, v.file);
    assert.deepEqual(sdp.streams.map((s) => s.direction), v.labels.map(() => 'sendonly'), v.file);
    assert.deepEqual(sdp.streams.map((s) => chooseAudioPayloads(s.payloads)[0]?.codec ?? ''), v.codecs, v.file);
    const meta = parseSiprecMetadata(parts.find((p) => /rs-metadata/.test(p.type))!.body);
    assert.equal(meta.participants.length, 2, v.file);
    const roles = siprecRoles(meta, sdp.streams.map((s) => s.label));
    assert.equal(participantNumber(roles.caller!), v.caller, `${v.file}: caller`);
    assert.equal(participantNumber(roles.callee!), v.called, `${v.file}: callee`);
    assert.deepEqual(roles.channels, v.channels, `${v.file}: channels`);
  }
});

test('metadata: participants arriving later, no associations, hostile XML', () => {
  const streamsOnly = parseSiprecMetadata(`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>
    <stream stream_id="A"><label>1</label></stream><stream stream_id="B"><label>2</label></stream></recording>`);
  assert.equal(streamsOnly.participants.length, 0);
  const before = siprecRoles(streamsOnly, ['1', '2']);
  assert.equal(before.caller, undefined);
  assert.deepEqual(before.channels, [0, 1]);
  // A partial update (RFC 7865 datamode partial) in an UPDATE or re-INVITE brings the participants.
  const later = parseSiprecMetadata(`<x:recording xmlns:x="urn:ietf:params:xml:ns:recording:1"><x:datamode>partial</x:datamode>
    <x:participant x:participant_id="P2"><x:nameID aor="sip:0201112222@h"/></x:participant>
    <x:participant participant_id="P1"><x:nameID aor="tel:+31 6 1234 5678"><x:name>Klant</x:name></x:nameID></x:participant>
    <x:participantstreamassoc participant_id="P1"><x:send>B</x:send></x:participantstreamassoc>
    <x:participantstreamassoc participant_id="P2"><x:send>A</x:send></x:participantstreamassoc></x:recording>`);
  const merged = mergeSiprecMetadata(streamsOnly, later);
  const after = siprecRoles(merged, ['1', '2']);
  assert.equal(participantNumber(after.caller!), '0201112222', 'the first participant listed is the caller');
  assert.equal(participantNumber(after.callee!), '+31612345678');
  assert.deepEqual(after.channels, [0, 1], 'P2 (caller) sends stream A, label 1');
  // The same participant again adds nothing twice.
  assert.equal(mergeSiprecMetadata(merged, later).participants[0]!.send.length, 1);
  // Without any association: participants in document order, numbers from names when no aor.
  const bare = parseSiprecMetadata('<recording><participant id="a"><name>+31 10 123 4567</name></participant><participant id="b"><nameID aor="sip:Alice@x"/></participant></recording>');
  const r = siprecRoles(bare, [undefined, undefined]);
  assert.equal(participantNumber(r.caller!), '+31101234567');
  assert.equal(participantNumber(r.callee!), 'Alice');
  assert.deepEqual(r.channels, [0, 1]);
  const bad: Array<[string, RegExp]> = [
    ['<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><recording>&a;</recording>', /DOCTYPE/],
    ['<recording><participant></recording', /not well-formed|no <recording>/],
    ['<something-else/>', /no <recording> element/],
    [`<recording>${'<participant id="x"/>'.repeat(5000)}</recording>`, /more than the 65536 read/],
  ];
  for (const [xml, re] of bad) assert.throws(() => parseSiprecMetadata(xml), (e) => isRvError(e) && e.code === 'RV_ERR_SIPREC_METADATA' && re.test(e.message), xml.slice(0, 40));
});
