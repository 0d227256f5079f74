// Lint: type-aware rules that matter in authentication code (floating promises, misused promises,
// unsafe any), on top of the recommended sets.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'vitest.config.ts', 'eslint.config.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      // Fastify plugins and the engine's policy steps are async by contract even when a body awaits nothing.
      '@typescript-eslint/require-await': 'off',
      // The core facade hands out service functions that close over their dependencies (no `this`).
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    rules: {
      // `parse(...) as Row[]` reads better than a type argument; not a safety rule.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Test matchers (expect.any, expect.stringContaining) are typed any by design.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
  { files: ['bin/*', '**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
