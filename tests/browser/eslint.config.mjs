// eslint.config.mjs: ESLint's flat config for the browser tests themselves (ctest
// browser.lint): node ES modules, with the bodies of page.evaluate/$$eval run in the page.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['node_modules/**'] },
  js.configs.recommended,
  {
    files: ['**/*.mjs'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // Functions passed to page.evaluate run in the browser: both sets of globals.
      globals: { ...globals.node, ...globals.browser },
    },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: 'error',
      'prefer-const': 'error',
    },
  },
];
