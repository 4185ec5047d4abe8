// What the use cases need from the outside world besides storage: time and fresh identifiers.
import { randomUUID } from 'node:crypto';
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
