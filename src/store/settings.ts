import { CoreError } from '../core/errors.ts';
import type { SettingsStore } from '../core/ports.ts';
import type { Settings } from '../core/types.ts';
import type { StoreContext } from './context.ts';

/** One row per overridden top-level setting, its value as JSON. */
export function createSettingsStore({ db }: StoreContext): SettingsStore {
  return {
    async get() {
      const rows = await db.selectFrom('settings').select(['key', 'value']).execute();
      const stored: Partial<Record<keyof Settings, unknown>> = {};
      for (const row of rows) stored[row.key as keyof Settings] = JSON.parse(row.value);
      return stored;
    },

    async put(key, value, now) {
      const json = JSON.stringify(value);
      if (json === undefined) throw new CoreError('validation_failed', `setting ${key} has no JSON value`, { [key]: 'must be a JSON value' });
      await db
        .insertInto('settings')
        .values({ key, value: json, updated_at: now })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: json, updated_at: now }))
        .execute();
    },
  };
}
