// The OpenAPI 3.1 document of the admin API, generated from the operation table and the zod
// schemas (zod's own JSON Schema output), so it always matches the routes.
import { z } from 'zod';
import { OPERATIONS } from './operations.js';
import { problemSchema } from './schemas.js';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

export const toOpenApiPath = (koaPath: string) => koaPath.replace(/:([A-Za-z_]+)/g, '{$1}');

const problem = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });

export function openApiDocument(issuer: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const path = toOpenApiPath(op.path);
    const pathParams = [...op.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const queryParams = op.query
      ? Object.entries((jsonSchema(op.query, 'input').properties ?? {}) as Record<string, Record<string, unknown>>).map(([name, schema]) => ({
          name,
          in: 'query',
          required: false,
          schema,
          ...(schema.description ? { description: schema.description } : {}),
        }))
      : [];
    paths[path] ??= {};
    paths[path][op.method] = {
      operationId: op.id,
      summary: op.summary,
      tags: [op.tag],
      ...(pathParams.length || queryParams.length ? { parameters: [...pathParams, ...queryParams] } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body, 'input') } } } } : {}),
      responses: {
        [String(op.status)]: op.response ? { description: 'Success', content: { 'application/json': { schema: jsonSchema(op.response, 'output') } } } : { description: 'Done, nothing to return' },
        400: problem('The input is not acceptable; detail says what to change'),
        401: problem('No valid bearer token'),
        403: problem('The token is valid but may not use the admin API (needs the admin scope of an admin client)'),
        ...(op.path.includes(':') ? { 404: problem('No such client or user') } : {}),
        ...(op.conflict ? { 409: problem(op.conflict) } : {}),
        413: problem('The body is larger than 64 kB'),
        415: problem('A body that is not JSON (Content-Type: application/json)'),
        503: problem('A backing service is unavailable; try again'),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Twofold admin API',
      version: '1',
      description: 'Everything the twofold CLI does, over HTTP. Authenticate with a bearer access token from the client credentials grant of a client registered with --admin, requesting scope "admin".',
    },
    servers: [{ url: `${issuer}/admin/api/v1` }],
    security: [{ adminToken: [] }],
    tags: [{ name: 'clients' }, { name: 'users' }, { name: 'policy' }, { name: 'audit' }],
    paths,
    components: {
      securitySchemes: {
        adminToken: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: `${issuer}/token`, scopes: { admin: 'Administer Twofold' } } } },
      },
      schemas: { Problem: jsonSchema(problemSchema, 'output') },
    },
  };
}
