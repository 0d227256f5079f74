/**
 * Generators driven by the schema: the commented `countersign.yaml` written by `countersign init`,
 * and docs/configuration.md (`npm run docs:config`).
 */
import { stringify } from 'yaml';
import { CONFIG_OPTIONS, ConfigSchema, defaultText, describeAllowed, typeName, type SchemaNode } from './schema.ts';

const ROOT = ConfigSchema as unknown as SchemaNode;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** A value on the same line as its key: lists and mappings in flow style (`[0.0.0.0, "::"]`). */
function scalar(value: unknown): string {
  const flow = typeof value === 'object' && value !== null;
  // On one line however long: a folded flow list would not be indented under its key.
  return stringify(value, { flowCollectionPadding: false, ...(flow ? { collectionStyle: 'flow' as const, lineWidth: 0 } : {}) }).trimEnd();
}

/** The commented configuration file written by `countersign init`: every option with its default. */
export function renderConfigTemplate(): string {
  const out: string[] = [
    '# Countersign configuration.',
    '#',
    '# Every option is listed with its default value. Relative paths resolve against the folder of',
    '# this file. Each option can also be set by the environment variable shown above it, which wins',
    '# over this file; NAME_FILE instead of NAME reads the value from a file (for secrets).',
    '# Reference: docs/configuration.md',
    '',
  ];
  const walk = (node: SchemaNode, segments: string[], indent: string): void => {
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      const here = [...segments, key];
      if (child.type === 'object') {
        if (segments.length === 0 && out[out.length - 1] !== '') out.push('');
        for (const l of wrap(child.description ?? '', 96)) out.push(`${indent}# ${l}`);
        out.push(`${indent}${key}:`);
        walk(child, here, indent + '  ');
        continue;
      }
      const option = CONFIG_OPTIONS.find((o) => o.path === here.join('.'));
      if (!option) continue;
      for (const l of wrap(option.description, 96 - indent.length)) out.push(`${indent}# ${l}`);
      const allowed = child.type === 'string' ? '' : `Allowed: ${describeAllowed(child)}. `;
      out.push(`${indent}# ${allowed}Environment: ${option.envName}`);
      if (child['x-default-text']) {
        out.push(`${indent}# ${key}: (${child['x-default-text']})`);
      } else if (child.default === undefined) {
        // Optional, unset by default: shown commented out.
        out.push(`${indent}# ${key}:`);
      } else {
        out.push(`${indent}${key}: ${scalar(child.default)}`);
      }
      if (child.examples?.[0] !== undefined) {
        out.push(`${indent}# For example:`);
        for (const l of stringify({ [key]: child.examples[0] })
          .trimEnd()
          .split('\n'))
          out.push(`${indent}#   ${l}`);
      }
    }
  };
  walk(ROOT, [], '');
  return out.join('\n') + '\n';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** docs/configuration.md, generated from the schema. */
export function renderConfigDocs(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`. Do not edit by hand. -->',
    '',
    'Countersign reads its configuration from, in increasing order of precedence:',
    '',
    '1. the defaults below;',
    '2. the YAML file: `--config FILE`, else the environment variable `COUNTERSIGN_CONFIG`, else',
    '   `./countersign.yaml` (when that default file does not exist, defaults and environment alone are used;',
    '   a file named explicitly must exist);',
    '3. environment variables `COUNTERSIGN_<PATH>`, where PATH is the key path upper-snake-cased with `_`',
    '   between levels (`rateLimit.perKeyPerMinute` is `COUNTERSIGN_RATE_LIMIT_PER_KEY_PER_MINUTE`).',
    '   `COUNTERSIGN_<PATH>_FILE` reads the value from a file instead (for secrets such as a PostgreSQL',
    '   password in `database.url`); a trailing newline is removed. Lists are comma-separated or a JSON list;',
    '   booleans are `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).',
    '',
    'Relative paths resolve against the folder of the configuration file. Unknown keys and values out of',
    'range are errors that name the key, the value given and what is allowed, for example',
    '`server.port: 99999 is not allowed: an integer 1..65535`.',
    '',
    'Plain HTTP (`server.plainHttp`) is refused on a non-loopback host unless',
    '`server.allowInsecurePublicHttp` is set, and the server then warns loudly at start. It also warns when',
    'the key file is readable by other users and when the certificate is self-signed.',
    '',
  ];
  const sections = Object.entries(ROOT.properties ?? {});
  for (const [name, section] of sections) {
    out.push(`## \`${name}\``, '', section.description ?? '', '');
    out.push('| Key | Type | Default | Allowed | Environment variable | Description |');
    out.push('|---|---|---|---|---|---|');
    for (const option of CONFIG_OPTIONS.filter((o) => o.segments[0] === name)) {
      const def = option.schema['x-default-text'] ? `(${option.schema['x-default-text']})` : `\`${defaultText(option)}\``;
      out.push(
        `| \`${option.path}\` | ${typeName(option.schema)}${option.optional ? ' (optional)' : ''} | ${cell(def)} | ${cell(describeAllowed(option.schema))} | \`${option.envName}\` | ${cell(option.description)} |`,
      );
    }
    out.push('');
    const items = section.items;
    if (section.type === 'array' && items?.type === 'object') {
      out.push(`Each entry of \`${name}\`:`, '');
      out.push('| Key | Type | Default | Allowed | Description |');
      out.push('|---|---|---|---|---|');
      const rows = (node: SchemaNode, prefix: string): void => {
        for (const [key, child] of Object.entries(node.properties ?? {})) {
          const required = (node.required ?? []).includes(key);
          if (child.type === 'object') {
            out.push(`| \`${prefix}${key}\` | mapping (optional) | none | ${cell(describeAllowed(child))} | ${cell(child.description ?? '')} |`);
            rows(child, `${prefix}${key}.`);
            continue;
          }
          const def = child.default !== undefined ? `\`${JSON.stringify(child.default)}\`` : required ? 'required' : 'none';
          out.push(
            `| \`${prefix}${key}\` | ${typeName(child)}${required ? '' : ' (optional)'} | ${cell(def)} | ${cell(describeAllowed(child))} | ${cell(child.description ?? '')} |`,
          );
        }
      };
      rows(items, '');
      out.push('');
    }
  }
  return out.join('\n');
}
