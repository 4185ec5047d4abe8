// The operator CLI (`npm run ops -- …`): finds the command in the table, parses its flags and maps what it throws to an exit code.
import { parseArgs } from 'node:util';
import { nearestFlag, unknownFlagOf } from '../dev-kit/unknown-flag';
import { StateKeptMovingError } from '../../lambdas/shared/domain/errors';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import { UsageError, type FlagSpec, type FlagSpecs, type FlagValues, type OpsCommand } from './command';
import { attentionCommands } from './commands/attention';
import { auditCommands } from './commands/audit';
import { bookingCommands } from './commands/bookings';
import { checkCommands } from './commands/check';
import { holdCommands } from './commands/holds';
import { paymentCommands } from './commands/payments';
import { reconcileCommands } from './commands/reconcile';
import { slotCommands } from './commands/slots';
import { tripCommands } from './commands/trips';
import { LocalSettingError } from '../local/local-settings';
import { createContext, GLOBAL_FLAGS, type CliIo, type OpsContext } from './context';
import { formatCommandHelp, formatHelp } from './help';
import { FIX_THE_STRIPE_KEY } from './printing';
import { AccountMismatchError } from './stripe-mode';

export type { CliIo } from './context';

/** In the order help lists them. */
const COMMANDS: readonly OpsCommand[] = [
  ...slotCommands,
  ...tripCommands,
  ...holdCommands,
  ...bookingCommands,
  ...paymentCommands,
  ...attentionCommands,
  ...reconcileCommands,
  ...auditCommands,
  ...checkCommands,
];
/** Every command's name, as typed. */
export const OPS_COMMAND_NAMES: readonly string[] = COMMANDS.map((command) => command.name);

const COMMANDS_BY_NAME = new Map(COMMANDS.map((command) => [command.name, command]));

/** Every flag of every command (a name has one type everywhere): a first pass with these finds the command's words wherever the flags stand on the line. */
const ANY_FLAG: FlagSpecs = Object.assign({}, GLOBAL_FLAGS, ...COMMANDS.map((command) => command.flags));

/** parseArgs reads `-3` as an option; a negative number is a value here (and then refused with a clear message). */
const NEGATIVE = '\u0000';
const protectNegatives = (argv: readonly string[]): string[] => argv.map((arg) => (/^-\d+$/.test(arg) ? `${NEGATIVE}${arg}` : arg));
const restoreNegative = (value: string): string => (value.startsWith(NEGATIVE) ? value.slice(1) : value);

interface ParsedLine {
  readonly flags: Record<string, string | boolean | undefined>;
  readonly words: string[];
}

/** Our flags as parseArgs takes them. */
function optionsOf(flags: FlagSpecs) {
  return Object.fromEntries(
    Object.entries(flags).map(([name, { type, short }]) => [name, { type, ...(short && { short }), ...(type === 'boolean' && { default: false }) }]),
  );
}

/** Strict: a flag not in `flags` is a usage error (unknownFlag words it). */
function parseLine(argv: readonly string[], flags: FlagSpecs): ParsedLine {
  const parsed = parseArgs({ args: protectNegatives(argv), options: optionsOf(flags), allowPositionals: true, strict: true });
  return {
    flags: Object.fromEntries(Object.entries(parsed.values).map(([name, value]) => [name, typeof value === 'string' ? restoreNegative(value) : value])),
    words: parsed.positionals.map(restoreNegative),
  };
}

/** The command the line's words name, and the line parsed again with only that command's flags. */
function findCommand(argv: readonly string[]): { line: ParsedLine; command?: OpsCommand } {
  const line = parseLine(argv, ANY_FLAG);
  const [noun, verb] = line.words;
  // A one-word command (`check`, `reconcile`) followed by a stray word is that command, refused for the extra word.
  const command = COMMANDS_BY_NAME.get(`${noun} ${verb ?? ''}`.trim()) ?? COMMANDS_BY_NAME.get(noun ?? '');
  return command ? { line: parseLine(argv, { ...GLOBAL_FLAGS, ...command.flags }), command } : { line };
}

/** What the table promises a command before it runs: its target words (no more), its required flags in the order they are declared, no empty value. */
function checkUsage(command: OpsCommand, words: readonly string[], flags: ParsedLine['flags']): void {
  const allowed = command.target ? command.target.synopsis.split(' ').length : 0;
  if (command.target && words.length === 0) throw new UsageError(`${command.name} needs ${command.target.needs}`);
  if (words.length > allowed)
    throw new UsageError(`${command.name} takes ${allowed === 0 ? 'no arguments' : command.target?.synopsis}; unexpected "${words[allowed]}"`);
  for (const [name, spec] of Object.entries<FlagSpec>(command.flags)) {
    if (spec.required === true && !flags[name]) throw new UsageError(`${command.name} needs --${name} (${spec.description})`);
  }
  for (const [name, value] of Object.entries(flags)) {
    if (value === '') throw new UsageError(`--${name} needs a value`);
  }
}

const HELP_POINTER = 'npm run ops -- help lists the commands';

/** A flag the command does not take, said in our words with the nearest one it does take; undefined for parseArgs' other refusals. */
function unknownFlag(argv: readonly string[], error: unknown): string | undefined {
  const flag = unknownFlagOf(error);
  if (flag === undefined) return undefined;
  // The line again, unknown flags allowed, only to learn which command it names: an unknown flag's value reads as a
  // word of its own, so the command is the first words that name one.
  const words = parseArgs({ args: protectNegatives(argv), options: optionsOf(ANY_FLAG), allowPositionals: true, strict: false }).positionals;
  const command = words
    .map((word, index) => COMMANDS_BY_NAME.get(`${word} ${words[index + 1] ?? ''}`.trim()) ?? COMMANDS_BY_NAME.get(word))
    .find((named) => named !== undefined);
  const near = nearestFlag(flag, Object.keys(command ? { ...GLOBAL_FLAGS, ...command.flags } : ANY_FLAG));
  const pointer = command ? `npm run ops -- ${command.name} --help lists its flags` : HELP_POINTER;
  return `unknown flag ${flag}${command ? ` for ${command.name}` : ''}${near ? ` (did you mean --${near}?)` : ''}; ${pointer}`;
}

/**
 * A flag that takes a value given none: followed by another flag (`--reason --no-refund`, which parseArgs calls
 * ambiguous) or last on the line. Said as the value it lacks, and how to give one that starts with a dash. Undefined
 * for parseArgs' other refusals.
 */
function missingValue(argv: readonly string[], error: unknown): string | undefined {
  if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return undefined;
  const quoted = /^Option '([^']+)' argument (?:is ambiguous|missing)/.exec((error as Error).message)?.[1];
  const flag = quoted && /--[\w-]+/.exec(quoted)?.[0];
  if (!flag) return undefined;
  // The occurrence that lacks its value: the one followed by a flag, or by nothing.
  const at = argv.findIndex((arg, index) => arg === flag && (argv[index + 1] === undefined || argv[index + 1]?.startsWith('-')));
  const next = at >= 0 ? argv[at + 1] : undefined;
  if (next === undefined) return `${flag} needs a value (one that starts with a dash is written ${flag}=-…)`;
  return `${flag} needs a value, and the "${next}" after it is a flag of its own (a value that starts with a dash is written ${flag}=${next})`;
}

/** An unknown command, said with the commands of its group when its first word names one (`slots`: slots add, slots list…). */
function unknownCommand(words: readonly string[]): string {
  const group = COMMANDS.filter((command) => command.name.split(' ')[0] === words[0]).map((command) => command.name);
  const hint = group.length > 0 ? `${words[0]} is a group of commands: ${group.join(', ')}` : HELP_POINTER;
  return `unknown command "${words.join(' ')}"; ${hint}`;
}

/** Runs one command; resolves to the process exit code (0 done, 1 refused or drift found, 2 bad usage). */
export async function runOps(argv: string[], io: CliIo): Promise<number> {
  let found: ReturnType<typeof findCommand>;
  try {
    found = findCommand(argv);
  } catch (error) {
    io.err(`error: USAGE: ${unknownFlag(argv, error) ?? missingValue(argv, error) ?? `${(error as Error).message.split('\n')[0]}; ${HELP_POINTER}`}`);
    return 2;
  }
  const { line, command } = found;
  const [noun, ...asked] = line.words;
  if (!noun || noun === 'help' || (line.flags.help && !command)) {
    const about = COMMANDS_BY_NAME.get(asked.join(' '));
    if (noun === 'help' && asked.length > 0 && !about) {
      io.err(`error: USAGE: ${unknownCommand(asked)}`);
      return 2;
    }
    io.out(about ? formatCommandHelp(about, GLOBAL_FLAGS) : formatHelp(COMMANDS, GLOBAL_FLAGS));
    // Nothing asked at all is bad usage, said in its one line after the commands; asking for help is not.
    if (noun || line.flags.help) return 0;
    io.err('error: USAGE: no command given; the commands are listed above');
    return 2;
  }
  if (!command) {
    io.err(`error: USAGE: ${unknownCommand(line.words)}`);
    return 2;
  }
  if (line.flags.help) {
    io.out(formatCommandHelp(command, GLOBAL_FLAGS));
    return 0;
  }
  const words = line.words.slice(command.name.split(' ').length);
  const [target, ...more] = words;
  let context: OpsContext | undefined;
  try {
    checkUsage(command, words, line.flags);
    context = createContext(io, line.flags as FlagValues<typeof GLOBAL_FLAGS>);
    return await command.run(context, { flags: line.flags as FlagValues<FlagSpecs>, target: target ?? '', more });
  } catch (error) {
    return reportFailure(error, io);
  } finally {
    context?.store.destroy();
  }
}

/** One error line, with its code, and the exit code for what a command threw. */
function reportFailure(error: unknown, io: CliIo): number {
  if (error instanceof UsageError || error instanceof LocalSettingError) {
    io.err(`error: USAGE: ${error.message}`);
    return 2;
  }
  if (error instanceof AccountMismatchError) {
    io.err(
      `error: ACCOUNT_MISMATCH: ${error.message}: is it a key of this deployment's account? what was decided is stored as requested, ` +
        'and the reconciliation sweep asks for it with the deployment’s own key (or payments retry-refund with a key of its account)',
    );
    return 1;
  }
  if (error instanceof PaymentGatewayUnavailableError && error.credentialsRejected) {
    io.err(`error: STRIPE_KEY_REJECTED: ${error.message}; what was decided is stored as requested: ${FIX_THE_STRIPE_KEY}, then payments retry-refund`);
    return 1;
  }
  if (error instanceof PaymentGatewayUnavailableError) {
    io.err(`error: STRIPE_UNAVAILABLE: ${error.message}; what was decided is stored as requested: run the same command again, or payments retry-refund`);
    return 1;
  }
  if (error instanceof StateKeptMovingError) {
    io.err(`error: TRANSACTION_FAILED: ${error.message}; what was decided before is stored: run the same command again`);
    return 1;
  }
  const name = (error as { name?: string }).name;
  const message = (error as Error).message?.split('\n')[0];
  if (name === 'CredentialsProviderError') {
    io.err(
      `error: NO_AWS_CREDENTIALS: ${message}; with --region, the table is in AWS: set AWS_PROFILE (or run aws sso login), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
    );
  } else if (name === 'StoredDataError') {
    // An item that no longer reads (a count of the wrong type, a field lost): nothing was changed, and no retry will read it.
    io.err(`error: STORED_DATA_UNUSABLE: ${message}; nothing was changed: repair the item in the table (\`npm run ops -- check\` lists every one)`);
  } else if (name === 'StoreUnavailableError' || name === 'ResourceNotFoundException') {
    // Not reached at all, or reached but too busy to answer (throttled, keys left unprocessed after every round).
    io.err(
      `error: STORE_UNAVAILABLE: cannot use the table (${message}); is \`npm start\` running? else check --endpoint, --region and --table; ` +
        'if it is only busy, run the same command again',
    );
  } else io.err(`error: UNEXPECTED: ${message}`);
  return 1;
}
