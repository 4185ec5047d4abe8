// zod for everything that ships in a Lambda bundle: the tree-shakable mini API with English messages only.
// The classic API costs about 445 KiB per bundle (its methods cannot be tree-shaken). Import this module as a
// namespace (`import * as z from './zod'`): re-exporting a namespace *object* would keep every export alive.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
