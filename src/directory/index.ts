/** Directory sources (LDAP): connection settings, fail-over, test connection, LDAP first factor. */
export { directorySource, DirectoryConfigError, type DirectorySource, type DirectorySourceInput } from './source.ts';
export {
  connectService,
  testConnection,
  DirectoryUnavailableError,
  type ConnectionReport,
  type DirectoryAttempt,
  type DirectoryStage,
} from './connection.ts';
export { createLdapFirstFactor, escapeFilterValue, MAX_USERNAME_LENGTH } from './ldap-first-factor.ts';
