// A small JSON Schema (2020-12 subset) checker for the tests: enough to hold the admin API's real
// responses against the schemas its OpenAPI document publishes. It understands what zod's
// toJSONSchema emits: type (or a list of types), enum, const, properties, required,
// additionalProperties, items, anyOf/oneOf/allOf, numeric and length bounds, pattern and $ref into
// the document. Anything else it meets is an error, so the check cannot quietly pass.
type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$ref', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'anyOf', 'oneOf', 'allOf',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern',
  'propertyNames', 'format', 'default', 'description', 'title', 'examples',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

const typeMatches = (wanted: string, actual: string) => wanted === actual || (wanted === 'number' && actual === 'integer');

/** Problems with `value` against `schema` (empty: valid). `root` resolves "#/..." references. */
export function validate(schema: Schema, value: unknown, root: Schema = schema, at = '$'): string[] {
  const errors: string[] = [];
  for (const key of Object.keys(schema)) if (!KNOWN.has(key)) errors.push(`${at}: the checker does not know the keyword "${key}"`);
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce<unknown>((node, part) => (node as Schema | undefined)?.[part], root);
    if (!target) return [`${at}: unresolvable $ref ${schema.$ref}`];
    errors.push(...validate(target as Schema, value, root, at));
  }
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => typeMatches(t, actual))) return [...errors, `${at}: expected ${types.join(' or ')}, got ${actual}`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) errors.push(`${at}: expected ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: ${value} < minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: ${value} > maximum ${schema.maximum}`);
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) errors.push(`${at}: ${value} <= ${schema.exclusiveMinimum}`);
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) errors.push(`${at}: ${value} >= ${schema.exclusiveMaximum}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) errors.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) errors.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) errors.push(`${at}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${at}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${at}: more than ${schema.maxItems} items`);
    if (schema.items && typeof schema.items === 'object') value.forEach((item, i) => errors.push(...validate(schema.items as Schema, item, root, `${at}[${i}]`)));
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in object)) errors.push(`${at}: missing required "${name}"`);
    for (const [name, member] of Object.entries(object)) {
      if (schema.propertyNames && typeof schema.propertyNames === 'object') errors.push(...validate(schema.propertyNames as Schema, name, root, `${at} key "${name}"`));
      if (properties[name]) errors.push(...validate(properties[name]!, member, root, `${at}.${name}`));
      else if (schema.additionalProperties === false) errors.push(`${at}: unexpected property "${name}"`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties as Schema, member, root, `${at}.${name}`));
    }
  }
  if (Array.isArray(schema.allOf)) for (const sub of schema.allOf as Schema[]) errors.push(...validate(sub, value, root, at));
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((sub) => validate(sub, value, root, at).length === 0)) errors.push(`${at}: matches none of anyOf`);
  if (Array.isArray(schema.oneOf) && (schema.oneOf as Schema[]).filter((sub) => validate(sub, value, root, at).length === 0).length !== 1) errors.push(`${at}: does not match exactly one of oneOf`);
  return errors;
}
