// The benchmark's report: the figures kept in bench/results.json and the table printed at the end of a run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunStats } from './measurement';

/** Milliseconds as the table shows them. */
export const ms = (value: number): string => value.toFixed(1);

export class BenchReport {
  private readonly results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: 2 };
  private readonly rows: string[][] = [];

  record(key: string, value: unknown): void {
    this.results[key] = value;
  }

  row(...cells: (string | number)[]): void {
    this.rows.push(cells.map(String));
  }

  /** How much the handler adds to the floor: throughput and latency ratios, kept and shown. */
  ratios(name: string, handler: RunStats, floor: RunStats): void {
    const value = { throughput: floor.perSecond / handler.perSecond, p50: handler.p50 / floor.p50, p99: handler.p99 / floor.p99 };
    this.record(`ratio.${name}`, value);
    this.row(`  ratio handler/floor`, '', `${value.throughput.toFixed(2)}x slower`, '', `${value.p50.toFixed(2)}x`, `${value.p99.toFixed(2)}x`, '');
  }

  /** Prints the table and writes results.json into `benchDir`. */
  finish(totalSeconds: number, benchDir: string): void {
    this.record('totalSeconds', totalSeconds);
    const header = ['workload', 'C', 'per second / result', '', 'p50 ms', 'p99 ms', 'notes'];
    const widths = header.map((_, column) => Math.max(...[header, ...this.rows].map((cells) => (cells[column] ?? '').length)));
    const lines = [header, header.map((_, i) => '-'.repeat(widths[i] ?? 0)), ...this.rows].map(
      (cells) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`,
    );
    console.log(lines.join('\n'));
    console.log(`\nTotal ${totalSeconds.toFixed(0)} s on Node ${process.version}; results in bench/results.json`);
    writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(this.results, null, 2)}\n`);
  }
}
