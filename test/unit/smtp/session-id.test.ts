import { describe, expect, it } from 'vitest';
import { newSessionId } from '../../../src/smtp/library-hooks.js';

describe('newSessionId', () => {
  it('is 16 base-32 digits, as the library writes its own', () => {
    for (let i = 0; i < 2000; i++) expect(newSessionId()).toMatch(/^[0-9a-v]{16}$/);
  });

  it('does not repeat (80 random bits), across a refill of the random pool', () => {
    const ids = new Set(Array.from({ length: 3000 }, () => newSessionId()));
    expect(ids.size).toBe(3000);
  });
});
