// A browser-like HTTP client for tests: a cookie jar, manual redirects, and HTML form helpers.
// It speaks to the server exactly as a browser without JavaScript would.
import { CookieJar } from 'tough-cookie';
import * as cheerio from 'cheerio';

export interface Page {
  status: number;
  url: string;
  headers: Headers;
  html: string;
  $: cheerio.CheerioAPI;
}

export class Agent {
  readonly jar = new CookieJar();
  constructor(private readonly defaultHeaders: Record<string, string> = {}) {}

  async request(url: string, init: { method?: string; form?: Record<string, string> | URLSearchParams | string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...this.defaultHeaders, ...init.headers };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined = init.body;
    if (init.form !== undefined) {
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
      body = typeof init.form === 'string' ? init.form : new URLSearchParams(init.form as Record<string, string>).toString();
    }
    const res = await fetch(url, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const setCookie of res.headers.getSetCookie()) await this.jar.setCookie(setCookie, url, { ignoreError: true });
    return res;
  }

  get(url: string, headers?: Record<string, string>): Promise<Response> {
    return this.request(url, { headers });
  }

  post(url: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Response> {
    return this.request(url, { method: 'POST', form, headers });
  }

  /** Follows redirects until a response is not a redirect, or its target satisfies `stopAt`. */
  async follow(res: Response, stopAt?: (location: string) => boolean, max = 15): Promise<{ res: Response; url: string }> {
    let url = res.url;
    for (let i = 0; i < max && res.status >= 300 && res.status < 400; i++) {
      const location = new URL(res.headers.get('location')!, url).href;
      if (stopAt?.(location)) return { res, url: location };
      await res.body?.cancel();
      url = location;
      res = await this.get(location);
    }
    return { res, url };
  }

  /** GET (following redirects) and parse the page. */
  async open(url: string): Promise<Page> {
    const { res, url: finalUrl } = await this.follow(await this.get(url));
    return toPage(res, finalUrl);
  }

  /**
   * Submits the form whose action ends with `actionSuffix` (optionally the one containing a
   * button with `buttonText`), with its hidden fields plus `fields`, and follows redirects
   * unless `stopAt` says otherwise.
   */
  async submit(page: Page, actionSuffix: string, fields: Record<string, string> = {}, options: { stopAt?: (location: string) => boolean; button?: string } = {}): Promise<Page & { redirectedTo?: string }> {
    const { action, values } = formOf(page, actionSuffix, options.button);
    const target = new URL(action, page.url).href;
    const res = await this.post(target, { ...values, ...fields });
    const { res: last, url } = await this.follow(res, options.stopAt);
    if (last.status >= 300 && last.status < 400) return { ...(await toPage(last, target)), redirectedTo: url };
    return toPage(last, url);
  }
}

export async function toPage(res: Response, url: string): Promise<Page> {
  const html = await res.text();
  return { status: res.status, url, headers: res.headers, html, $: cheerio.load(html) };
}

/** The action and current values (hidden inputs, a pressed button's name/value) of a form. */
export function formOf(page: Page, actionSuffix: string, button?: string): { action: string; values: Record<string, string> } {
  const forms = page.$('form').filter((_, el) => (page.$(el).attr('action') ?? '').endsWith(actionSuffix));
  const form = button ? forms.filter((_, el) => page.$(el).find('button').text().includes(button)).first() : forms.first();
  if (form.length === 0) throw new Error(`no form with action ending "${actionSuffix}" on ${page.url}:\n${page.$('main').text().replace(/\s+/g, ' ').slice(0, 500)}`);
  const values: Record<string, string> = {};
  form.find('input[type=hidden]').each((_, el) => {
    const name = page.$(el).attr('name');
    if (name) values[name] = page.$(el).attr('value') ?? '';
  });
  if (button) {
    const pressed = form.find('button').filter((_, el) => page.$(el).text().includes(button)).first();
    const name = pressed.attr('name');
    if (name) values[name] = pressed.attr('value') ?? '';
  }
  return { action: form.attr('action')!, values };
}

/** The visible text of the main card, whitespace collapsed. */
export const textOf = (page: Page): string => page.$('main').text().replace(/\s+/g, ' ').trim();
