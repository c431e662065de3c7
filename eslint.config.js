// One flat config for the whole workspace: typed linting keeps `any` out of public APIs.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/generated/**', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off'
    }
  },
  {
    // Shipped code (every source under packages/*/src that is not a test, a test helper or a test fixture) never
    // loads test code: @ringtrain/testing is a dev dependency, and the images leave test files out.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['**/*.test.ts', '**/*.test-helper.ts', '**/*.fixture.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@ringtrain/testing', '@ringtrain/testing/*'],
              message: '@ringtrain/testing is for tests only (a dev dependency, not in the images)'
            },
            {
              group: [
                '**/*.test',
                '**/*.test.*',
                '**/*.test-helper',
                '**/*.test-helper.*',
                '**/*.fixture',
                '**/*.fixture.*'
              ],
              message: 'test code is not shipped: only tests may import it'
            }
          ]
        }
      ]
    }
  }
);
