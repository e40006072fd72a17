// ESLint flat config (lives in test/ with the other tool configs so the top level stays fixed).
// Run: npm run lint. typescript-eslint's recommended rules without type information (fast enough for CI on 2 cores).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // `_`-prefixed names are deliberately unused (callback signatures, destructuring to drop a field).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  // Tests read JSON bodies of the API loosely; a typed copy of every response shape would only restate the schemas.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // The web UI runs in the browser, not in Node.
  { files: ['dashboard/ui/static/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
);
