/** `countersign keys ...`: the key file that seals secrets at rest. */
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { emit, loadCliConfig, note } from './runtime.ts';

export function registerKeys(program: CommandUnknownOpts): void {
  const keys = program
    .command('keys')
    .description('manage the key file (sealing of secrets at rest, the Web Push key pair)')
    .addHelpText('after', '\nExamples:\n  $ countersign keys rotate\n  $ countersign keys vapid');

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

  keys
    .command('vapid')
    .description('add a Web Push (VAPID) key pair to the key file if it has none, and print its public key')
    .addHelpText(
      'after',
      `
Push notifications (push.provider webpush) are signed with this key pair, and devices subscribe
to its public key. Key files made by "countersign init" have one; this adds it to older ones. An
existing pair is never replaced (every device would have to subscribe again). Back up the key file
afterwards, and copy it to the other nodes.

Example:
  $ countersign keys vapid`,
    )
    .action(async (_opts, cmd) => {
      const config = await loadCliConfig(cmd);
      const { addVapidKeys } = await import('../store/keyring.ts');
      const { publicKey, created } = await addVapidKeys(config.keys.file);
      emit(cmd, { keyFile: config.keys.file, publicKey, created }, () =>
        created ? `added a Web Push key pair to ${config.keys.file}; public key ${publicKey}` : `${config.keys.file} already has a Web Push key pair (kept); public key ${publicKey}`,
      );
      if (created) note('Back up the key file now; other nodes with their own copy of the key file need the new one.');
    });
}
