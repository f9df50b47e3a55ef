// What an account may look like; the CLI, the admin API and the sign-in page share these rules.
import { z } from 'zod';

export const usernameSchema = z
  .string()
  .trim()
  .min(1, 'username is required')
  .max(64, 'username is at most 64 characters')
  .regex(/^[\p{L}\p{N}][\p{L}\p{N}._@+-]*$/u, 'username may use letters, digits and . _ @ + - (starting with a letter or digit)');

/** NIST 800-63B: at least 8 characters, any characters allowed; the upper bound keeps hashing bounded. */
export const passwordSchema = z
  .string()
  .min(8, 'password must be at least 8 characters')
  .max(256, 'password is at most 256 characters');

export const accountFieldsSchema = z.object({
  email: z.email('email must be an email address').max(254).nullish(),
  name: z.string().trim().min(1).max(200).nullish(),
  role: z.string().trim().min(1).max(64).nullish(),
  locale: z
    .string()
    .regex(/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$/, 'locale must be a language tag such as en or en-GB')
    .nullish(),
});

export const newAccountSchema = accountFieldsSchema.extend({
  username: usernameSchema,
  password: passwordSchema.optional(),
});

export type AccountFieldsInput = z.infer<typeof accountFieldsSchema>;
