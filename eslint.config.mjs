// Type-aware lint: no-floating-promises catches an un-awaited bus.handle or commit.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Promise safety is the point: an un-awaited commit or bus.handle is a real bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // knex rows and parsed JSON are `any` by nature; typing each at the use site adds noise.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The service stands alone: the image ships src/ only, without tests, tools/ or bench/.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/tools/**', '**/bench/**', '**/tests/**'],
              message: 'src/ is the service: it never imports the tests, tools/ or bench/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['tests/**/*.ts'],
    rules: {
      // chai's expect(x).to.be.true is an expression statement by design
      '@typescript-eslint/no-unused-expressions': 'off',
      // fakes implement async ports synchronously
      '@typescript-eslint/require-await': 'off',
    },
  },
);
