/**
 * Text request bodies (CSV, PSKC XML) for the import routes. JSON bodies are limited to 1 MiB by the
 * app; imports may be up to 20 MiB. Routes with a text body accept only their declared media types.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CoreError } from '../../core/errors.ts';
import { problem, ProblemError } from './errors.ts';

export const JSON_BODY_LIMIT = 1024 * 1024;
export const IMPORT_BODY_LIMIT = 20 * 1024 * 1024;

export const CSV_TYPES = ['text/csv'] as const;
export const XML_TYPES = ['application/pskc+xml', 'application/xml', 'text/xml'] as const;

/** Registers string parsers for the text media types (the route's bodyLimit applies). */
export function registerTextParsers(app: FastifyInstance): void {
  app.addContentTypeParser([...CSV_TYPES, ...XML_TYPES], { parseAs: 'string' }, (_request, body, done) => {
    done(null, body);
  });
}

/** The media type of the request without parameters, lower-cased ('' when absent). */
export function mediaType(request: FastifyRequest): string {
  const header = request.headers['content-type'];
  if (header === undefined) return '';
  const semi = header.indexOf(';');
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase();
}

export interface TextBody {
  readonly limit: number;
  readonly types: readonly string[];
  /** Fastify body schema per media type (validation and OpenAPI). */
  readonly schema: { content: Record<string, { schema: ReturnType<typeof Type.String> }> };
  /** The body text; 415 `unsupported_media_type` for any other media type, 400 when empty. */
  text(request: FastifyRequest): string;
}

export function textBody(types: readonly string[], description: string): TextBody {
  const content: Record<string, { schema: ReturnType<typeof Type.String> }> = {};
  for (const t of types) content[t] = { schema: Type.String({ minLength: 1, description }) };
  return {
    limit: IMPORT_BODY_LIMIT,
    types,
    schema: { content },
    text(request) {
      const type = mediaType(request);
      if (!types.includes(type) || typeof request.body !== 'string') {
        throw new ProblemError(problem('unsupported_media_type', `The content type must be one of: ${types.join(', ')}.`));
      }
      if (request.body.length === 0) throw new CoreError('validation_failed', 'The request body is empty.', { body: 'must not be empty' });
      return request.body;
    },
  };
}

export const csvBody = textBody(CSV_TYPES, 'CSV with a header row');
export const tokenBody = textBody([...CSV_TYPES, ...XML_TYPES], 'CSV with a header row, or an RFC 6030 PSKC KeyContainer');
