// What an operator command is: its name, what it acts on, its flags (declared once, for parsing, checking and help) and what it runs.
import type { BookingFailure } from '../../lambdas/shared/domain/errors';
import type { OpsContext } from './context';

/** Bad usage: exit 2 with the message, as one `error:` line. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const UTC_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/;

/** A date flag's value, a date (its midnight, UTC) or a UTC time, as epoch milliseconds; bad usage naming the flag otherwise. */
export function instantOf(value: string, flag: string): number {
  const iso = DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value;
  const ms = UTC_TIME.test(iso) ? Date.parse(iso) : Number.NaN;
  // A day that does not exist (2026-02-30) either fails to parse or reads back as another day.
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== iso.slice(0, 10)) {
    throw new UsageError(`${flag} must be a date (YYYY-MM-DD, UTC) or a UTC time (2026-11-20T09:30:00Z), got "${value}"`);
  }
  return ms;
}

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** One letter, e.g. `h` for `-h`. */
  readonly short?: string;
  /** How help shows the value, e.g. `ID` or `YYYY-MM-DD`. */
  readonly value?: string;
  /** A missing or empty flag is refused before the command runs (exit 2), the description saying why. */
  readonly required?: true;
  readonly description: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type FlagValue<Spec extends FlagSpec> = Spec['type'] extends 'boolean' ? boolean : Spec['required'] extends true ? string : string | undefined;

export type FlagValues<Flags extends FlagSpecs> = { readonly [Name in keyof Flags]: FlagValue<Flags[Name]> };

export interface CommandInput<Flags extends FlagSpecs> {
  readonly flags: FlagValues<Flags>;
  /** The first word after the command's name (present when the command declares a target). */
  readonly target: string;
  /** The words after the target. */
  readonly more: readonly string[];
}

export interface OpsCommand<Flags extends FlagSpecs = FlagSpecs> {
  /** One or two words, as typed: `check`, `slots add`. */
  readonly name: string;
  /**
   * The words the command acts on, e.g. `{ synopsis: 'ID', needs: 'a slot id' }`: refused (exit 2) when missing; one word
   * a `synopsis` word at most (more is refused too).
   */
  readonly target?: { readonly synopsis: string; readonly needs: string };
  /** One line for help. */
  readonly summary: string;
  readonly flags: Flags;
  /** Resolves to the exit code: 0 done, 1 refused or something found wrong. */
  run(context: OpsContext, input: CommandInput<Flags>): Promise<number>;
}

/** Types `run`'s flags from the command's own declaration; the table then holds it as a plain OpsCommand. */
export function defineCommand<Flags extends FlagSpecs>(command: OpsCommand<Flags>): OpsCommand {
  return command;
}

/** A `… show ID` command: how to load what it shows, the refusal when there is none, and how it reads as text (as loaded under --json). */
export interface ShowCommandSpec<Shown> extends Pick<OpsCommand, 'name' | 'summary'> {
  readonly target: NonNullable<OpsCommand['target']>;
  load(context: OpsContext, id: string): Promise<Shown | undefined>;
  notFound(id: string): Pick<BookingFailure, 'errorCode' | 'message'>;
  printText(context: OpsContext, shown: Shown): void;
}

export function defineShowCommand<Shown>(spec: ShowCommandSpec<Shown>): OpsCommand {
  return defineCommand({
    name: spec.name,
    target: spec.target,
    summary: spec.summary,
    flags: {},
    async run(context, { target: id }) {
      const shown = await spec.load(context, id);
      if (shown === undefined) return context.refused({ ok: false, ...spec.notFound(id), retryable: false });
      if (context.json) context.print(shown);
      else spec.printText(context, shown);
      return 0;
    },
  });
}

/** A whole number within JavaScript's exact range, or bad usage naming the flag. */
export function wholeNumber(value: string, flag: string): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, got "${value}"`);
  const number = Number(value);
  if (!Number.isSafeInteger(number)) throw new UsageError(`${flag} is too large, got ${value}`);
  return number;
}
