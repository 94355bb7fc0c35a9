// ESLint flat config for the dashboard's page code (plots/dashboard/*.js), run by ctest
// plots.lint (tests/plots/lint.sh). eslint, @eslint/js and globals are installed by ci/setup.sh
// with `npm ci` into tests/browser/node_modules (pinned by tests/browser/package-lock.json);
// MEMSCOPE_NODE_MODULES names another node_modules holding them.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.MEMSCOPE_NODE_MODULES || path.join(here, '..', '..', 'tests', 'browser', 'node_modules');
// Resolve the packages from that node_modules, not from this directory (which has none).
const require = createRequire(path.join(modules, '..', 'package.json'));
const js = require('@eslint/js');
const globals = require('globals');

// Markup from strings is how data would become code: the page inserts text only.
const noMarkup = [
  { property: 'innerHTML', message: 'insert text (textContent, createTextNode), never markup' },
  { property: 'outerHTML', message: 'insert text (textContent, createTextNode), never markup' },
  { property: 'insertAdjacentHTML', message: 'insert text (textContent, createTextNode), never markup' },
  { object: 'document', property: 'write', message: 'build nodes, never write markup' },
  { object: 'document', property: 'writeln', message: 'build nodes, never write markup' },
];

export default [
  js.configs.recommended,
  {
    files: ['*.js'],
    languageOptions: {
      ecmaVersion: 2022,
      // The three files are concatenated into one classic <script> (charts.js, flame.js,
      // dashboard.js), sharing MSCharts and MSFlame through /* exported */ and /* global */.
      sourceType: 'script',
      globals: { ...globals.browser },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-undef': 'error',
      'no-unused-vars': ['error', { args: 'after-used' }],
      eqeqeq: ['error', 'always'],
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      'no-script-url': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      strict: ['error', 'global'],
      'no-restricted-properties': ['error', ...noMarkup],
    },
  },
  {
    files: ['eslint.config.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
];
