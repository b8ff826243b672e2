// Loaded by mocha before any test (see .mocharc.json).
process.env.LOG_LEVEL ??= 'silent';
