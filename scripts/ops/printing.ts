// How the operator CLI prints: aligned tables, field lists and money for people, JSON under --json, refusals on stderr.
import type { BookingFailure } from '../../lambdas/shared/domain/errors';
import type { PaymentAttention, RefundEntry } from '../../lambdas/shared/domain/model';
import { money } from '../../lambdas/shared/domain/money';

// Money reads the same in the domain's messages and in the CLI's tables.
export { money };

/** What to do about a Stripe API key Stripe refused, in every command's words. */
export const FIX_THE_STRIPE_KEY = 'set STRIPE_API_KEY to a working key of the account (a restricted key needs the permission named)';

/** Every reason a payment is in front of a person, the first one first: `refund_failed, share_unknown`. */
export function attentionReasons(attention: PaymentAttention): string {
  return [attention, ...(attention.more ?? [])].map((known) => `${known.reason}${known.code ? ` (${known.code})` : ''}`).join(', ');
}

export function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}

/** A refund's amount is in its charge's currency; one priced in another (`pricedIn`) is in that one, until Stripe made it. */
export function refundCurrency(entry: RefundEntry, chargeCurrency: string): string {
  return entry.stripeRefundId === undefined ? (entry.pricedIn ?? chargeCurrency) : chargeCurrency;
}

export function refundLine(entry: RefundEntry, currency: string): string {
  const failure = entry.failureCode ? ` (${entry.failureCode})` : '';
  const resolved = entry.resolvedAt ? `, resolved by a person ${entry.resolvedAt}` : '';
  return `${entry.status}${failure}: ${money(entry.amount, refundCurrency(entry, currency))}${entry.stripeRefundId ? ` as ${entry.stripeRefundId}` : ''}${resolved}`;
}

/** Columns padded to their widest cell, so a listing reads as a table. */
export function formatTable(rows: readonly object[], columns: readonly string[]): string[] {
  const cell = (row: object, column: string): string => {
    const value = (row as Record<string, unknown>)[column];
    return value === undefined || value === null ? '' : String(value);
  };
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row, column).length)));
  const line = (cells: string[]): string =>
    cells
      .map((text, index) => text.padEnd(widths[index] ?? 0))
      .join('  ')
      .trimEnd();
  return [line([...columns]), line(widths.map((width) => '-'.repeat(width))), ...rows.map((row) => line(columns.map((column) => cell(row, column))))];
}

/** One record shown as `name  value` lines, the values lined up. */
export function formatFields(fields: Iterable<readonly [string, unknown]>): string[] {
  return [...fields].map(([name, value]) => `${name.padEnd(18)} ${String(value)}`);
}

export interface Printer {
  /** Under --json the value itself; otherwise the rows as a table when given, else the value. */
  print(value: unknown, rows?: readonly object[], columns?: readonly string[]): void;
  printTable(rows: readonly object[], columns: readonly string[]): void;
  /** An empty listing: `[]` under --json, a sentence saying so for people. */
  printEmpty(value: unknown, text: string): void;
  printFields(fields: Iterable<readonly [string, unknown]>): void;
  /** A business refusal: one error line (and the failure on stdout under --json); resolves to exit code 1. */
  refused(failure: BookingFailure): number;
}

export function createPrinter(io: { readonly out: (line: string) => void; readonly err: (line: string) => void }, json: boolean): Printer {
  const printLines = (lines: readonly string[]): void => {
    for (const line of lines) io.out(line);
  };
  return {
    print(value, rows, columns) {
      if (json) io.out(JSON.stringify(value, null, 2));
      else if (rows && columns) printLines(formatTable(rows, columns));
      else io.out(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    },
    printTable: (rows, columns) => printLines(formatTable(rows, columns)),
    printEmpty(value, text) {
      if (json) io.out(JSON.stringify(value, null, 2));
      else io.out(text);
    },
    printFields: (fields) => printLines(formatFields(fields)),
    refused(failure) {
      if (json) io.out(JSON.stringify(failure, null, 2));
      io.err(`error: ${failure.errorCode}: ${failure.message}`);
      return 1;
    },
  };
}
