// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/peers/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Table tests name every column, the "why" one included, even where it is only read by people.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The web UI: browser code, type-checked with its own tsconfig (DOM lib), and no way
    // to turn a string into markup: mail content goes into the DOM as text only.
    files: ['ui/**/*.ts'],
    languageOptions: {
      globals: globals.browser,
      parserOptions: { projectService: false, project: './tsconfig.ui.json' },
    },
    rules: {
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Use textContent or dom.ts h(): mail content is untrusted.' },
        { property: 'outerHTML', message: 'Use textContent or dom.ts h(): mail content is untrusted.' },
        { property: 'insertAdjacentHTML', message: 'Use dom.ts h(): mail content is untrusted.' },
        { object: 'document', property: 'write', message: 'Use dom.ts h().' },
        { property: 'createContextualFragment', message: 'Use dom.ts h().' },
      ],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: globals.node } },
);
