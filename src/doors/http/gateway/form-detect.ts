/**
 * Finds an application's login form in its login page, for form-based interception when the
 * administrator does not name the fields: the first form with exactly one password field; the
 * username field is the text (or email) field before it; a domain field is a field whose name says
 * so. The HTML is parsed by parse5 (the WHATWG parsing algorithm browsers use), never by patterns.
 */
import { parse } from 'parse5';

export interface LoginForm {
  /** Path the form posts to, on the application's origin. */
  readonly submitPath: string;
  readonly usernameField: string;
  readonly passwordField: string;
  readonly domainField: string | null;
}

interface Node {
  readonly nodeName: string;
  readonly attrs?: readonly { readonly name: string; readonly value: string }[];
  readonly childNodes?: readonly Node[];
  readonly content?: Node;
}

const attr = (n: Node, name: string): string | undefined => n.attrs?.find((a) => a.name === name)?.value;

function* walk(n: Node): Generator<Node> {
  yield n;
  for (const c of n.childNodes ?? []) yield* walk(c);
  if (n.content) yield* walk(n.content);
}

const TEXT_TYPES = new Set(['', 'text', 'email']);
const DOMAIN_NAME = /domain/i;

/** The login form of a page fetched from `pageUrl`, or undefined when there is none to be sure of. */
export function detectLoginForm(html: string, pageUrl: URL): LoginForm | undefined {
  const doc = parse(html) as unknown as Node;
  for (const form of walk(doc)) {
    if (form.nodeName !== 'form') continue;
    const method = (attr(form, 'method') ?? 'get').toLowerCase();
    if (method !== 'post') continue;
    const fields = [...walk(form)].filter((n) => (n.nodeName === 'input' || n.nodeName === 'select') && attr(n, 'name'));
    const passwords = fields.filter((n) => n.nodeName === 'input' && (attr(n, 'type') ?? '').toLowerCase() === 'password');
    if (passwords.length !== 1) continue;
    const password = passwords[0] as Node;
    const before = fields.slice(0, fields.indexOf(password));
    const username = before.reverse().find((n) => n.nodeName === 'input' && TEXT_TYPES.has((attr(n, 'type') ?? '').toLowerCase()) && !DOMAIN_NAME.test(attr(n, 'name') ?? ''));
    if (!username) continue;
    const domain = fields.find((n) => n !== username && n !== password && DOMAIN_NAME.test(attr(n, 'name') ?? ''));
    const action = new URL(attr(form, 'action') ?? '', pageUrl);
    if (action.origin !== pageUrl.origin) continue;
    return {
      submitPath: action.pathname,
      usernameField: attr(username, 'name') as string,
      passwordField: attr(password, 'name') as string,
      domainField: domain ? (attr(domain, 'name') as string) : null,
    };
  }
  return undefined;
}
