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
export {
  activeDirectory,
  openldap,
  PRESETS,
  withOverrides,
  mapEntry,
  guidToString,
  AttributeMapError,
  EntryMappingError,
  type AttributeMap,
  type DirectoryUser,
  type GroupMembership,
  type MapOptions,
} from './presets.ts';
export { searchUsers, scopeFilter, DirectorySearchError, type SearchScope, type SearchOptions, type SearchResult } from './search.ts';
export { importDirectoryUsers, type DirectoryImportDeps, type DirectoryImportOptions, type DirectoryImportReport, type DirectoryImportError } from './import.ts';
