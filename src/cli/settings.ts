/** `countersign settings ...`: company settings (lockout, bypass, caching, trusted networks...). */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import type { Settings, SettingsPatch } from '../core/types.ts';
import { UsageError, cliActor, emit, table, withContext } from './runtime.ts';

/** `{lockout: {threshold: 3}}` -> [['lockout.threshold', 3]] */
export function flattenSettings(value: unknown, prefix = ''): [string, unknown][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [[prefix, value]];
  return Object.entries(value).flatMap(([k, v]) => flattenSettings(v, prefix ? `${prefix}.${k}` : k));
}

/** JSON when it parses (numbers, booleans, lists, objects, null), else the text itself. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export function patchFor(current: Settings, key: string, value: unknown): SettingsPatch {
  const segments = key.split('.');
  const known = flattenSettings(current).map(([k]) => k);
  const top = segments[0] ?? '';
  const valid = segments.length === 1 ? top in current : segments.length === 2 && known.includes(key);
  if (!valid) {
    const near = known.filter((k) => k.toLowerCase().includes(segments.at(-1)!.toLowerCase()) || k.toLowerCase().startsWith(top.toLowerCase()));
    throw new UsageError(`unknown setting ${key}${near.length > 0 ? `; did you mean ${near.slice(0, 3).join(', ')}?` : ''} (see: countersign settings show)`);
  }
  return (segments.length === 1 ? { [top]: value } : { [top]: { [segments[1]!]: value } });
}

export function registerSettings(program: CommandUnknownOpts): void {
  const settings = program.command('settings').description('show and change company settings').addHelpText(
    'after',
    `
Examples:
  $ countersign settings show
  $ countersign settings set lockout.threshold 3
  $ countersign settings set trustedIps '["10.0.0.0/8"]'`,
  );

  settings
    .command('show')
    .description('show every setting with its current value')
    .addHelpText('after', '\nExample:\n  $ countersign settings show --json')
    .action(async (_opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const s = await core.settings.get();
        emit(cmd, s, () =>
          table(flattenSettings(s), [
            ['SETTING', ([k]) => k],
            ['VALUE', ([, v]) => JSON.stringify(v)],
          ]),
        );
      });
    });

  settings
    .command('set')
    .description('change one setting')
    .argument('<key>', 'dotted path, e.g. lockout.threshold or cacheSeconds')
    .argument('<value>', 'new value, parsed as JSON when possible (3, true, ["10.0.0.0/8"]), else text')
    .addHelpText(
      'after',
      `
Examples:
  $ countersign settings set lockout.threshold 3
  $ countersign settings set lockout.autoUnlockSeconds 0
  $ countersign settings set bypass.defaultSeconds 600
  $ countersign settings set defaultLanguage fr`,
    )
    .action(async (key, raw, _opts, cmd) => {
      await withContext(cmd, async ({ core }) => {
        const patch = patchFor(await core.settings.get(), key, parseValue(raw));
        const updated = await core.settings.update(patch, cliActor());
        const value = flattenSettings(updated).filter(([k]) => k === key || k.startsWith(`${key}.`));
        emit(cmd, updated, () => value.map(([k, v]) => `${k} = ${JSON.stringify(v)}`));
      });
    });
}
