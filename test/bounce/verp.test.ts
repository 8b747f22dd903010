import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bounceAddressFor, deliveryOfBounceAddress } from '../../src/bounce/verp.ts';

const options = { local: 'bounces', domain: 'mail.mydomain.ru', secret: 'a-bounce-secret-of-enough-length-0123' };

describe('VERP bounce addresses', () => {
  it('name the delivery, and read back to it, whatever the case an MTA gives the address', () => {
    for (const position of [0, 1, 127, 128, 1599, 100_000]) {
      const delivery = { notificationId: randomUUID(), position };
      const address = bounceAddressFor(delivery, options);
      expect(address).toMatch(/^bounces\+[a-z2-7]+\.[a-z2-7]+@mail\.mydomain\.ru$/);
      expect(address.split('@')[0]!.length).toBeLessThanOrEqual(64); // RFC 5321 §4.5.3.1.1
      expect(deliveryOfBounceAddress(address, options)).toEqual(delivery);
      expect(deliveryOfBounceAddress(address.toUpperCase(), options)).toEqual(delivery);
    }
  });

  it('cannot be forged: another secret, a changed delivery or MAC, another domain or local part are refused', () => {
    const address = bounceAddressFor({ notificationId: randomUUID(), position: 3 }, options);
    expect(deliveryOfBounceAddress(address, { ...options, secret: 'another-secret-of-enough-length-4567' })).toBeNull();
    const [local, domain] = address.split('@') as [string, string];
    const [token, mac] = local.split('+')[1]!.split('.') as [string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    expect(deliveryOfBounceAddress(`bounces+${flip(token, 5)}.${mac}@${domain}`, options)).toBeNull();
    expect(deliveryOfBounceAddress(`bounces+${token}.${flip(mac, 2)}@${domain}`, options)).toBeNull();
    expect(deliveryOfBounceAddress(`bounces+${token}.${mac}@evil.example`, options)).toBeNull();
    expect(deliveryOfBounceAddress(`other+${token}.${mac}@${domain}`, options)).toBeNull();
    expect(deliveryOfBounceAddress('bounces@mail.mydomain.ru', options)).toBeNull();
    expect(deliveryOfBounceAddress(`bounces+${token}@${domain}`, options)).toBeNull();
  });
});
