// Booking references: format, alphabet, and spread.
import { describe, expect, it } from 'vitest';
import { generateReference, isReference, REFERENCE_ALPHABET, REFERENCE_PATTERN } from '../../lambdas/shared/domain/references';

describe('generateReference', () => {
  it('writes PL- and 8 symbols of an alphabet without 0, O, 1 or I', () => {
    expect(REFERENCE_ALPHABET).toHaveLength(32);
    expect(REFERENCE_ALPHABET).not.toMatch(/[01OI]/);
    for (let i = 0; i < 1_000; i++) expect(generateReference()).toMatch(REFERENCE_PATTERN);
  });

  it('spreads over the whole alphabet and does not repeat in 20,000 draws', () => {
    const references = Array.from({ length: 20_000 }, generateReference);
    expect(new Set(references).size).toBe(references.length);
    const symbols = new Set(references.flatMap((reference) => [...reference.slice(3)]));
    expect(symbols.size).toBe(32);
  });

  it.each(['PL-ABCDEFG', 'PL-ABCDEFGHJ', 'PL-ABCDEF0H', 'pl-ABCDEFGH', 'XX-ABCDEFGH'])('rejects %s as a reference', (value) => {
    expect(isReference(value)).toBe(false);
  });
});
