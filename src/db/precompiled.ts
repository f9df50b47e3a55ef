// Kysely builds and compiles a query's SQL on every call. The handful of queries that run on every
// request are compiled once here and then run with fresh parameters (positional, in the order the
// builder used them).
import type { CompiledQuery, Kysely } from 'kysely';
import type { Database } from './schema.js';

export class Precompiled<Row> {
  private compiled?: CompiledQuery<Row>;

  /** `build` is called once, with placeholder values standing where the parameters go. */
  constructor(
    private readonly db: Kysely<Database>,
    private readonly build: (db: Kysely<Database>) => { compile(): CompiledQuery<Row> },
  ) {}

  async rows(...parameters: unknown[]): Promise<Row[]> {
    this.compiled ??= this.build(this.db).compile();
    if (this.compiled.parameters.length !== parameters.length) throw new Error('precompiled query called with the wrong number of parameters');
    return (await this.db.executeQuery<Row>({ ...this.compiled, parameters })).rows;
  }

  async first(...parameters: unknown[]): Promise<Row | undefined> {
    return (await this.rows(...parameters))[0];
  }
}
