import { type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { ProblemException } from './problem.js';

/**
 * Validates a body, query or params object against a zod schema; a mismatch is a 400 problem body whose
 * `errors` name every bad field: `{"status":400,"detail":"ttlSeconds: must be a positive integer","errors":[...]}`.
 * Usage: `@Body(new ZodPipe(schema)) body: z.infer<typeof schema>`.
 */
export class ZodPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    const errors = result.error.issues.map((issue) => ({
      field: issue.path.length > 0 ? issue.path.join('.') : '(body)',
      problem: issue.message,
    }));
    throw new ProblemException(400, errors.map((e) => `${e.field}: ${e.problem}`).join('; '), { errors });
  }
}
