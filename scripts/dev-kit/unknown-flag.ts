// An unknown flag said in our words: Node's parseArgs names it, then advises on positionals starting with '-', which is another mistake.

/** The flag parseArgs refused as unknown (as typed, `--it's` included); undefined for its other refusals. */
export function unknownFlagOf(error: unknown): string | undefined {
  if ((error as { code?: string }).code !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return undefined;
  return /^Unknown option '(.+?)'(?=\. |$)/.exec((error as Error).message)?.[1];
}

/**
 * The flag name closest to `typed` (with its dashes), when a letter or two added, dropped or changed makes it one; never
 * for a name so short that two edits make it anything.
 */
export function nearestFlag(typed: string, names: readonly string[]): string | undefined {
  const bare = typed.replace(/^-+/, '');
  const within = Math.min(2, bare.length - 1);
  const ranked = names.map((name) => ({ name, distance: editDistance(bare, name) })).sort((a, b) => a.distance - b.distance);
  return ranked[0] !== undefined && ranked[0].distance <= within ? ranked[0].name : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
