/**
 * Import of third-party and hardware OATH tokens with their secrets (CSV or PSKC).
 */
import { Type } from 'typebox';
import type { Core } from '../../../core/api.ts';
import { CoreError } from '../../../core/errors.ts';
import { ADMIN_ONLY, actorOf } from '../auth.ts';
import { CSV_TYPES, mediaType, tokenBody } from '../bodies.ts';
import { ImportReportSchema } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const ImportQuery = Type.Object(
  { format: Type.Optional(Type.Enum(['csv', 'pskc'], { description: 'Defaults to the body content type: text/csv is csv, XML is pskc' })) },
  { additionalProperties: false },
);

export async function tokensRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.post(
    '/tokens/import',
    {
      config: { roles: ADMIN_ONLY },
      bodyLimit: tokenBody.limit,
      schema: {
        tags: ['methods'],
        summary: 'Import OATH tokens (CSV or PSKC) and assign them to users',
        description:
          'CSV columns: username, type (totp|hotp), secret (base32, or hex with 0x prefix), digits, period, algorithm, counter, serial, label. ' +
          "PSKC: an RFC 6030 KeyContainer with plaintext secrets; each KeyPackage's DeviceInfo/UserId or Key/UserId names the user.",
        querystring: ImportQuery,
        body: tokenBody.schema,
        response: { 200: ImportReportSchema },
      },
    },
    async (request) => {
      const text = tokenBody.text(request);
      const bodyFormat = (CSV_TYPES as readonly string[]).includes(mediaType(request)) ? 'csv' : 'pskc';
      const format = request.query.format ?? bodyFormat;
      if (format !== bodyFormat) {
        throw new CoreError('validation_failed', `format=${format} does not match the content type ${mediaType(request)}.`, { format: 'does not match the content type' });
      }
      return core.methods.importTokens(format, text, actorOf(request));
    },
  );
}
