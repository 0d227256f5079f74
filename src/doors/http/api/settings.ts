/**
 * Company settings: policy defaults (lockout, bypass, caching, trusted networks, OATH windows).
 */
import type { Core } from '../../../core/api.ts';
import { ADMIN_ONLY, HELPDESK_READ, actorOf } from '../auth.ts';
import { SettingsPatchBody, SettingsSchema } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['settings'];

export async function settingsRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/settings',
    {
      config: { roles: HELPDESK_READ },
      schema: { tags, summary: 'Read the company settings', response: { 200: SettingsSchema } },
    },
    async () => core.settings.get(),
  );

  app.patch(
    '/settings',
    {
      config: { roles: ADMIN_ONLY },
      schema: { tags, summary: 'Change company settings (only the fields given; nested objects merge)', body: SettingsPatchBody, response: { 200: SettingsSchema } },
    },
    async (request) => core.settings.update(request.body, actorOf(request)),
  );
}
