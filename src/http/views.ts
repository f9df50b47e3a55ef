// Server-rendered pages (EJS, escaped by default). Every page shares views/partials/head.ejs and
// foot.ejs; templates are compiled once and cached.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';
import type { Context } from 'koa';

export const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export interface PageContext {
  /** The page title, also the <h1>. */
  title: string;
  [key: string]: unknown;
}

export class Views {
  constructor(private readonly options: { cache: boolean; productName: string }) {}

  async render(view: string, data: PageContext): Promise<string> {
    return ejs.renderFile(path.join(VIEWS_DIR, `${view}.ejs`), { product: this.options.productName, notice: undefined, error: undefined, ...data }, {
      cache: this.options.cache,
      root: VIEWS_DIR,
      views: [VIEWS_DIR],
    });
  }

  /** Renders into the response as HTML with the given status. */
  async send(ctx: Context, view: string, data: PageContext, status = 200): Promise<void> {
    const html = await this.render(view, data);
    ctx.status = status;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = html;
  }
}
