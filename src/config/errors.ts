/** A configuration problem. The message names the key, the value given and what is allowed. */
export class ConfigError extends Error {
  /** Dotted key path (`server.port`), or null for file-level problems (missing file, malformed YAML). */
  readonly key: string | null;

  constructor(message: string, key: string | null = null) {
    super(message);
    this.name = 'ConfigError';
    this.key = key;
  }
}
