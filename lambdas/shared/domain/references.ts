// Booking references (`PL-XXXXXXXX`): short, human-readable, cryptographically random.
import { randomBytes } from 'node:crypto';

/** 32 symbols: no 0/O and no 1/I, so a reference read aloud or copied off paper is not misread. */
export const REFERENCE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
export const REFERENCE_PATTERN = /^PL-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$/;
const REFERENCE_LENGTH = 8;

/**
 * A new reference. 32 symbols is exactly 5 bits, so masking each random byte keeps every symbol
 * equally likely. 32^8 ≈ 1.1e12 values make collisions rare, but uniqueness is enforced by the table.
 */
export function generateReference(): string {
  const bytes = randomBytes(REFERENCE_LENGTH);
  let body = '';
  for (const byte of bytes) body += REFERENCE_ALPHABET[byte & 31];
  return `PL-${body}`;
}

export function isReference(value: string): boolean {
  return REFERENCE_PATTERN.test(value);
}
