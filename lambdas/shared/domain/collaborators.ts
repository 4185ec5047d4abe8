// What the use cases are given: the store, the payment provider, time and fresh identifiers, as one set of ports.
import { randomUUID } from 'node:crypto';
import type { BookingStore } from './booking-store';
import type { PaymentGateway } from './payment-gateway';
import { generateReference } from './references';

export interface Clock {
  now(): Date;
}

export interface IdSource {
  uuid(): string;
  reference(): string;
}

export const systemClock: Clock = { now: () => new Date() };

export const randomIds: IdSource = { uuid: randomUUID, reference: generateReference };

/** What every use case is given: the store, the time and fresh identifiers. */
export interface Deps {
  readonly store: BookingStore;
  readonly clock: Clock;
  readonly ids: IdSource;
}

/** Use cases that move money also talk to the payment provider. */
export interface PaymentDeps extends Deps {
  readonly gateway: PaymentGateway;
}
