/**
 * A user's methods (authenticators): list, enroll TOTP, text-message and phone-call methods, backup codes, remove, HOTP resync.
 */
import type { Core } from '../../../core/api.ts';
import { ADMIN_ONLY, ANY_READER, HELPDESK, actorOf } from '../auth.ts';
import { BackupCodesSchema, EnrollBody, EnrollmentResultSchema, MethodList, MethodParams, DeviceActivationSchema, MethodViewSchema, NoContent, PhoneMethodBody, ResyncBody, UsernameParams } from '../schemas.ts';
import type { Api } from '../schemas.ts';

const tags = ['methods'];

export async function methodsRoutes(app: Api, opts: { core: Core }): Promise<void> {
  const { core } = opts;

  app.get(
    '/users/:username/methods',
    {
      config: { roles: ANY_READER },
      schema: { tags, summary: "List a user's methods (secrets are never returned)", params: UsernameParams, response: { 200: MethodList } },
    },
    async (request) => ({ items: await core.methods.list(request.params.username) }),
  );

  app.post(
    '/users/:username/methods',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: 'Enroll a TOTP method',
        description: 'Returns the secret, the otpauth URI and its QR code once; they are never shown again.',
        params: UsernameParams,
        body: EnrollBody,
        response: { 201: EnrollmentResultSchema },
      },
    },
    async (request, reply) => {
      const { label, algorithm, digits, period } = request.body;
      const result = await core.methods.enrollTotp(request.params.username, { label, algorithm, digits, period }, actorOf(request));
      reply.code(201);
      return result;
    },
  );

  app.post(
    '/users/:username/phone-methods',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: 'Add a text-message or phone-call method',
        description:
          "Uses one of the user's phones (set it on the user first); the number stays on the user, so a later change of number is followed. Adding the same method twice returns the existing one. Text messages need `sms.provider`, calls `voice.provider`.",
        params: UsernameParams,
        body: PhoneMethodBody,
        response: { 201: MethodViewSchema },
      },
    },
    async (request, reply) => {
      const { type, phone, label } = request.body;
      const result = await core.methods.addPhoneMethod(request.params.username, { type, ...(phone ? { phone } : {}), ...(label !== undefined ? { label } : {}) }, actorOf(request));
      reply.code(201);
      return result;
    },
  );

  app.post(
    '/users/:username/push-activation',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: 'Start activating a mobile app (push method)',
        description:
          'Returns an activation code, shown once and valid once for 10 minutes, that the user enters in Countersign Authenticator (or opens as `/mobile/app/#activate=<code>`). The new device is pending until the app activates it with its own key.',
        params: UsernameParams,
        response: { 201: DeviceActivationSchema },
      },
    },
    async (request, reply) => {
      const result = await core.devices.startActivation(request.params.username, actorOf(request));
      reply.code(201);
      return result;
    },
  );

  app.post(
    '/users/:username/backup-codes',
    {
      config: { roles: HELPDESK },
      schema: {
        tags,
        summary: 'Make a new set of backup codes',
        description:
          'Ten single-use codes of ten digits for when the authenticator is out of reach, returned once. They replace any earlier set, whose codes stop working. Any passcode prompt (API, RADIUS, portal) takes them.',
        params: UsernameParams,
        response: { 201: BackupCodesSchema },
      },
    },
    async (request, reply) => {
      const result = await core.methods.createBackupCodes(request.params.username, actorOf(request));
      reply.code(201);
      return result;
    },
  );

  app.delete(
    '/users/:username/methods/:id',
    {
      config: { roles: HELPDESK },
      schema: { tags, summary: 'Remove a method (reset)', params: MethodParams, response: { 204: NoContent } },
    },
    async (request, reply) => {
      await core.methods.remove(request.params.username, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/users/:username/methods/:id/resync',
    {
      config: { roles: ADMIN_ONLY },
      schema: {
        tags,
        summary: 'Resynchronize an HOTP token from two consecutive codes',
        params: MethodParams,
        body: ResyncBody,
        response: { 200: MethodViewSchema },
      },
    },
    async (request) => core.methods.resync(request.params.username, request.params.id, request.body.code1, request.body.code2, actorOf(request)),
  );
}
