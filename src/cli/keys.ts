/** `countersign keys ...`: the key file that seals secrets at rest. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { emit, loadCliConfig, note } from './runtime.ts';

export function registerKeys(program: CommandUnknownOpts): void {
  const keys = program
    .command('keys')
    .description('manage the key file (sealing of secrets at rest)')
    .addHelpText('after', '\nExample:\n  $ countersign keys rotate');

  keys
    .command('rotate')
    .description('add a new sealing key, make it active, and re-seal every stored secret under it')
    .addHelpText(
      'after',
      `
Older keys stay in the key file so backups made before the rotation still open. Back up the key
file after rotating. A running server that meets a secret sealed under a key it does not know
re-reads its key file, so servers sharing this key file need no restart; on other nodes, copy the
new key file first. Re-run the command if it was interrupted.

Example:
  $ countersign keys rotate`,
    )
    .action(async (_opts, cmd) => {
      const config = await loadCliConfig(cmd);
      const [{ openContext }, { rotateKeyFile }] = await Promise.all([import('../server.ts'), import('../store/keyring.ts')]);
      const { kid } = await rotateKeyFile(config.keys.file);
      // A fresh context loads the rotated key file, so re-sealing uses the new active key.
      const ctx = await openContext(config);
      let resealed: number;
      try {
        resealed = await ctx.store.methods.resealAll();
      } finally {
        await ctx.close();
      }
      emit(cmd, { keyFile: config.keys.file, activeKey: kid, resealed }, () => `new active key ${kid} in ${config.keys.file}; re-sealed ${resealed} secret(s)`);
      note('Back up the key file now; other nodes with their own copy of the key file need the new one.');
    });
}
