export { type DatabaseConfig, openDatabase } from './database.js';
export { type Migration, migrate, migrations, schemaStatus } from './migrations.js';
export { defaultPageLimit, InvalidCursorError, maxPageLimit } from './pagination.js';
export { conflictCopyPath, InvalidPathError, normalizeFilePath, topLevelFolders } from './paths.js';
export { generateToken, hashToken } from './repositories/tokens.js';
export { createStore } from './store.js';
export * from './types.js';
