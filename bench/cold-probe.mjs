// One cold start, in a fresh Node process of its own: loads a bundled entry point, then hands it the events it is given.
// Plain JavaScript run by plain node (no loader in between), so what it times is the bundle alone. It answers on fd 3.
import { readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const { PROBE_BUNDLE: bundle, PROBE_EVENTS: eventsFile } = process.env;
if (!bundle) throw new Error('PROBE_BUNDLE names the bundle to load');

/** Wall and CPU milliseconds (user + system, every thread) of `run`. */
async function timed(run) {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const value = await run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const used = process.cpuUsage(cpu);
  return { value, ms, cpuMs: (used.user + used.system) / 1000 };
}

// A CommonJS bundle is required, an ES module imported: each the way Lambda's runtime loads it.
const init = await timed(async () => (bundle.endsWith('.cjs') ? createRequire(import.meta.url)(bundle) : import(pathToFileURL(bundle).href)));
const deliveries = [];
for (const event of eventsFile ? JSON.parse(readFileSync(eventsFile, 'utf8')) : []) {
  const { value: response, ms, cpuMs } = await timed(() => init.value.handler(event));
  deliveries.push({ ms, cpuMs, statusCode: response.statusCode, outcome: JSON.parse(response.body ?? '{}').outcome });
}
writeSync(3, JSON.stringify({ initMs: init.ms, initCpuMs: init.cpuMs, deliveries }));
// Clients keep sockets open; a Lambda environment is frozen, a probe simply ends.
process.exit(0);
