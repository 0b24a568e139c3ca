import * as z from 'zod';

/**
 * Reads and checks the function's environment once, at cold start, so a missing setting
 * fails loudly on the first invocation instead of halfway through a request.
 */
export function readConfig<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv = process.env): z.infer<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid function configuration: ${fields}`);
  }
  return parsed.data;
}

/** `true`/`1` → true, anything else (or absent) → false. */
export const booleanFlag = z
  .string()
  .optional()
  .transform((value) => value === 'true' || value === '1');

/** A comma-separated list of non-negative integers, e.g. `5,300,1800`. */
export const secondsList = z
  .string()
  .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, 'comma-separated whole seconds')
  .transform((value) => value.split(',').map((part) => Number(part.trim())));
