// One way to turn a zod failure into a sentence a person can act on.
import type { z } from 'zod';
import { BadInput } from './errors.js';

export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const message = result.error.issues
    .map((issue) => {
      const where = issue.path.join('.');
      return where && !issue.message.toLowerCase().startsWith(String(issue.path[0]).toLowerCase()) ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
  throw new BadInput(message);
}
