/**
 * `countersign gateway`: look at the web gateway's configuration from the command line: the
 * sites, what a request to an address would meet, and what login form a page has (for form-based
 * interception). Reads the configuration file only; changes nothing.
 */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { detectLoginForm } from '../doors/http/gateway/form-detect.ts';
import { canonicalOrigin, compileSites } from '../doors/http/gateway/sites.ts';
import { normalizePath } from '../doors/http/gateway/targets.ts';
import { QuietFailure, UsageError, emit, loadCliConfig, record, table, text } from './runtime.ts';

async function configuredSites(cmd: CommandUnknownOpts) {
  const config = await loadCliConfig(cmd);
  const sites = config.gateway.sites.map((s) => ({ ...s, application: s.application ?? s.name }));
  return { config, sites, table: compileSites(sites) };
}

export function registerGateway(program: CommandUnknownOpts): void {
  const gateway = program
    .command('gateway')
    .description('the web gateway: its sites, what a request meets, login form detection')
    .addHelpText('after', '\nSee docs/gateway.md for the nginx, Traefik, Caddy and HAProxy configurations and the built-in proxy.');

  gateway
    .command('sites')
    .description('list the protected sites of the configuration')
    .addHelpText('after', '\nExample:\n  $ countersign gateway sites')
    .action(async (_opts, cmd) => {
      const { config, sites } = await configuredSites(cmd);
      emit(cmd, { enabled: config.gateway.enabled, sites }, () => [
        `gateway ${config.gateway.enabled ? 'enabled' : 'disabled (gateway.enabled: false)'}`,
        table(sites, [
          ['NAME', (s) => s.name],
          ['ORIGINS', (s) => s.origins.join(' ')],
          ['APPLICATION', (s) => s.application],
          ['PROXY', (s) => (s.proxy ? `${s.proxy.mode} ${s.proxy.listen} -> ${s.proxy.upstream}` : 'forward-auth')],
          ['PUBLIC', (s) => s.publicPaths.join(' ')],
          ['CACHE', (s) => `${s.cacheSeconds}s`],
        ]),
      ]);
    });

  gateway
    .command('check')
    .description('what a request to this address meets: its site, public or not, refused networks')
    .argument('<url>', 'the address as the browser asks for it, e.g. https://wiki.example.com/static/app.js')
    .option('--client <address>', 'client address, for denied networks and path rules')
    .addHelpText(
      'after',
      `
The path is read as the gateway reads it: a path that could be read two ways (encoded slashes,
dot segments, double encoding) is never public. Exit status 0 when a site answers for the address.

Examples:
  $ countersign gateway check https://wiki.example.com/static/app.js
  $ countersign gateway check 'https://wiki.example.com/admin/%2e%2e/static/x' --client 10.1.2.3`,
    )
    .action(async (url, opts, cmd) => {
      const m = /^(https?:\/\/[^/?#\s]+)([^#\s]*)$/i.exec(url);
      const origin = m ? canonicalOrigin(m[1] as string) : undefined;
      if (!m || !origin) throw new UsageError(`not an http(s) address: ${url}`);
      const rawPath = (m[2] as string) === '' ? '/' : (m[2] as string);
      const { table: sites } = await configuredSites(cmd);
      const site = sites.byOrigin(origin);
      const client = opts.client ?? null;
      const path = normalizePath(rawPath);
      const result = site
        ? { site: site.name, application: site.application, public: site.isPublic(path), refused: site.refuses(path, client), cacheSeconds: site.cacheSeconds }
        : { site: null, application: null, public: false, refused: true, cacheSeconds: null };
      emit(cmd, { origin, path: rawPath, client, ...result }, () =>
        record([
          ['site', result.site ?? `none (no site has the origin ${origin}: every request is refused)`],
          ['application', result.application],
          ['path', rawPath],
          ['decision', result.refused ? 'refused (403)' : result.public ? 'public: passes without sign-in' : 'sign-in needed (password, then a second factor)'],
        ]),
      );
      if (!site) throw new QuietFailure();
    });

  gateway
    .command('detect-form')
    .description("read an application's login page and show the form the built-in proxy would intercept")
    .argument('<login-page-url>', 'the login page, e.g. http://10.0.0.21:8080/login')
    .addHelpText(
      'after',
      `
Shows the submit path and the username, password and domain fields found (the first POST form
with exactly one password field). Put them in gateway.sites[].proxy.form to pin them. Exit status
1 when no login form is found.

Example:
  $ countersign gateway detect-form http://10.0.0.21:8080/login`,
    )
    .action(async (pageUrl, _opts, cmd) => {
      let page: URL;
      try {
        page = new URL(pageUrl);
      } catch {
        throw new UsageError(`not an address: ${pageUrl}`);
      }
      if (page.protocol !== 'http:' && page.protocol !== 'https:') throw new UsageError(`not an http(s) address: ${pageUrl}`);
      const res = await fetch(page, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      const form = res.ok ? detectLoginForm(await res.text(), page) : undefined;
      if (!form) {
        emit(cmd, { found: false, status: res.status }, () => `no login form found at ${page.href} (HTTP ${res.status}); give submitPath, usernameField and passwordField by hand`);
        throw new QuietFailure();
      }
      emit(cmd, { found: true, ...form }, () =>
        record([
          ['submitPath', form.submitPath],
          ['usernameField', form.usernameField],
          ['passwordField', form.passwordField],
          ['domainField', text(form.domainField)],
        ]),
      );
    });
}
