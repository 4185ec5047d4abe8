// The operator CLI's help, written from the command table so it names every command and flag there is.
import type { FlagSpec, FlagSpecs, OpsCommand } from './command';

const SUMMARY_COLUMN = 36;

const flagWithValue = (name: string, spec: FlagSpec): string => (spec.type === 'boolean' ? `--${name}` : `--${name} ${spec.value ?? 'TEXT'}`);

function commandSynopsis(command: OpsCommand): string {
  const flags = Object.entries<FlagSpec>(command.flags).map(([name, spec]) => (spec.required ? flagWithValue(name, spec) : `[${flagWithValue(name, spec)}]`));
  return [command.name, ...(command.target ? [command.target.synopsis] : []), ...flags].join(' ');
}

/** The summary in its column, on the next line when the synopsis is too long for it. */
function commandLine(command: OpsCommand): string {
  const synopsis = commandSynopsis(command);
  return synopsis.length < SUMMARY_COLUMN
    ? `  ${synopsis.padEnd(SUMMARY_COLUMN)} ${command.summary}`
    : `  ${synopsis}\n  ${''.padEnd(SUMMARY_COLUMN)} ${command.summary}`;
}

function optionsBlock(globalFlags: FlagSpecs): string[] {
  const described = Object.entries<FlagSpec>(globalFlags).map(([name, spec]) => `${flagWithValue(name, spec)} (${spec.description})`);
  return [
    `Options (every command): ${described.join('\n                         ')}`,
    'Refunds and Stripe’s events (bookings cancel, payments retry-refund, payments resume-refunds, reconcile) use STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in).',
  ];
}

/** Every command on one line each; `help COMMAND` shows one with its flags. */
export function formatHelp(commands: readonly OpsCommand[], globalFlags: FlagSpecs): string {
  return [
    'Usage: npm run ops -- <command> [options]   (npm run ops -- help <command> for its flags)',
    '',
    ...commands.map(commandLine),
    '',
    ...optionsBlock(globalFlags),
  ].join('\n');
}

export function formatCommandHelp(command: OpsCommand, globalFlags: FlagSpecs): string {
  const flags = Object.entries<FlagSpec>(command.flags).map(([name, spec]) => {
    return `  ${flagWithValue(name, spec).padEnd(SUMMARY_COLUMN)} ${spec.description}${spec.required ? ' (required)' : ''}`;
  });
  return [
    `Usage: npm run ops -- ${commandSynopsis(command)}`,
    '',
    `  ${command.summary}`,
    ...(flags.length > 0 ? ['', ...flags] : []),
    '',
    ...optionsBlock(globalFlags),
  ].join('\n');
}
