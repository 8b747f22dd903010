/**
 * DATA_DIR and the SQLite files in it: made for the service's user alone,
 * held by one process, written in transactions.
 */
import { chmodSync, closeSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/**
 * Makes DATA_DIR's folder and file; a failure says what is wrong with DATA_DIR
 * and what to do, in one line (`code: 'EDATADIR'`), not a stack that names mkdir.
 *
 * @example const file = dataDirFile(dir, () => { mkdirSync(dir, { recursive: true, mode: 0o700 }); return ownerOnlyFile(join(dir, 'outbox.sqlite')); });
 */
export function dataDirFile(dataDir: string, make: () => string): string {
  try {
    return make();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'is not a folder (a file is in its way): set DATA_DIR to a folder, or remove the file'
        : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
          ? `cannot be written by this user (${code}): give it write access to the folder, or set DATA_DIR to one it may write`
          : `cannot be used (${(error as Error).message}): set DATA_DIR to a folder this user may write`;
    throw Object.assign(new Error(`DATA_DIR ${dataDir} ${why}`), { code: 'EDATADIR' });
  }
}

/**
 * The path of a file only its owner may read and write: made 0600 before
 * SQLite opens it (SQLite makes a new file 0644, and its -wal and -shm files
 * take the database file's mode), or narrowed to 0600 if it was wider.
 *
 * @example new DatabaseSync(ownerOnlyFile(join(dataDir, 'outbox.sqlite')))
 */
export function ownerOnlyFile(path: string): string {
  closeSync(openSync(path, 'a', 0o600));
  if (statSync(path).mode & 0o077) chmodSync(path, 0o600);
  return path;
}

/**
 * One process per DATA_DIR: two would resend each other's deliveries. The
 * lock is an exclusive SQLite lock on `instance.lock`, an fcntl lock the kernel
 * releases when the process dies however it dies (no pid file to go stale, no
 * reused pid taken for a live holder).
 *
 * @example const lock = lockDataDir('./data'); … lock.close();
 */
export function lockDataDir(dataDir: string): { close(): void } {
  const lock = new DatabaseSync(ownerOnlyFile(join(dataDir, 'instance.lock')));
  try {
    lock.exec('PRAGMA busy_timeout = 0; PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;');
  } catch (error) {
    lock.close();
    if ((error as { errcode?: number }).errcode === 5) {
      throw Object.assign(new Error(`DATA_DIR ${dataDir} is in use by another running instance; run one instance per DATA_DIR (QUEUE_URL for several)`), {
        code: 'EDATADIR',
      });
    }
    throw error;
  }
  return lock;
}

const transactionStatements = new WeakMap<DatabaseSync, { begin: StatementSync; commit: StatementSync }>();

/** @example transaction(db, () => insert.run(…)) */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  // Prepared once: exec parses its SQL every time, which showed in the fan-out's profile.
  let statements = transactionStatements.get(db);
  if (!statements) {
    statements = { begin: db.prepare('BEGIN IMMEDIATE'), commit: db.prepare('COMMIT') };
    transactionStatements.set(db, statements);
  }
  statements.begin.run();
  try {
    const result = work();
    statements.commit.run();
    return result;
  } catch (error) {
    // SQLite ends the transaction itself on some errors (a full disk): rolling back
    // again would replace the real error with "cannot rollback".
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

/** A full disk or an I/O error: the outbox cannot take writes until an operator acts. */
export function isStorageFault(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode;
  // SQLITE_FULL (13), SQLITE_IOERR (10) and its extended codes, SQLITE_CANTOPEN (14), SQLITE_READONLY (8).
  return code !== undefined && [8, 10, 13, 14].includes(code & 0xff);
}
