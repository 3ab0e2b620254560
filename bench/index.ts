import { benchPipeline } from './pipeline.ts';
import { benchRing } from './ring.ts';
import { benchDsp } from './dsp.ts';
import { benchBoard } from './board.ts';

// One run prints every figure, each beside its peer (raw crypto) so the ratio is measured, not remembered.
console.log(`ringvault bench — node ${process.version}, ${process.arch}`);
await benchPipeline();
console.log('');
await benchRing();
await benchDsp();
await benchBoard();
await (await import('./search.ts')).benchSearch();
await (await import('./export.ts')).benchExport();
await (await import('./analyze.ts')).benchAnalyze();
await (await import('./analog.ts')).benchAnalog();
await (await import('./sip.ts')).benchSip();
await (await import('./runtime.ts')).benchRuntime();
await (await import('./alerts.ts')).benchAlerts();
await (await import('./secrets.ts')).benchSecrets();
await (await import('./codecs.ts')).benchCodecs();
await (await import('./durable.ts')).benchDurable();
await (await import('./trunk.ts')).benchTrunk();
