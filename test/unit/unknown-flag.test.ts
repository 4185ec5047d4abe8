// The wording of an unknown flag: the flag as typed, and a suggestion only when a letter or two away from a real one.
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { nearestFlag, unknownFlagOf } from '../../scripts/dev-kit/unknown-flag';

const FLAGS = ['experience', 'json', 'table', 'id', 'no-refund', 'since'];

/** What parseArgs throws for `args` when it knows none of them. */
function refusal(args: string[]): unknown {
  try {
    parseArgs({ args, options: {}, strict: true, allowPositionals: true });
  } catch (error) {
    return error;
  }
  throw new Error('parseArgs accepted it');
}

describe('unknownFlagOf', () => {
  it.each([
    ['--colour', '--colour'],
    ['--colour=red', '--colour'],
    ["--it's", "--it's"],
    ['-x', '-x'],
    ['--=', '--='],
  ])('names %s as %s', (typed, named) => {
    expect(unknownFlagOf(refusal([typed]))).toBe(named);
  });

  it('is undefined for any other error', () => {
    expect(unknownFlagOf(new Error("Unknown option '--x'"))).toBeUndefined();
  });
});

describe('nearestFlag', () => {
  it.each([
    ['--experiance', 'experience'],
    ['--jsn', 'json'],
    ['--tabel', 'table'],
    ['--norefund', 'no-refund'],
    ['--sinse', 'since'],
  ])('suggests for %s: --%s', (typed, expected) => {
    expect(nearestFlag(typed, FLAGS)).toBe(expected);
  });

  it.each([['-x'], ['--'], ['-3'], ['--colour'], ['--q']])('suggests nothing for %s (too short, or nothing near)', (typed) => {
    expect(nearestFlag(typed, FLAGS)).toBeUndefined();
  });
});
